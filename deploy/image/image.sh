#!/usr/bin/env bash
# Builds the one scimsync image from deploy/Dockerfile with podman, with no container registry
# needed, and checks that every program in it starts. Used by `make image` and `make image-check`
# (docs/deploy.md, "Build the image without Docker").
#
#   deploy/image/image.sh install       install podman, runc and debootstrap (Debian packages) if
#                                       missing; run by `deploy/local/infra.sh install image`
#   deploy/image/image.sh bases         make sure the two base images exist: pulled when a registry
#                                       answers, else made from Debian's archive (debootstrap)
#   deploy/image/image.sh build         bases, then build deploy/Dockerfile as scimsync:local and
#                                       drop what the build left behind
#   deploy/image/image.sh check         start every program of the image against the local
#                                       PostgreSQL and RabbitMQ, wait for each one's health (check.py)
#   deploy/image/image.sh sizes         the images and the size of the container storage
#   deploy/image/image.sh clean         remove every image and the container storage
#   deploy/image/image.sh podman ARGS   podman with the project's settings, to look around
#
# Everything podman keeps (images, layers, its state) lives under .local/containers/ (git-
# ignored), with the settings written there by this script: a machine's own podman setup is
# neither used nor touched, and the local bases, tagged under the upstream names so that the
# unchanged Dockerfile finds them, never shadow real images elsewhere.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
LOCAL="$ROOT/.local"
STORE="$LOCAL/containers"
IMAGE="${SCIMSYNC_IMAGE:-localhost/scimsync:local}"
# The builder stage of the last build, tagged so that its layers stay as the next build's cache.
BUILD_CACHE=localhost/scimsync-build-cache:local
# The names deploy/Dockerfile's FROM lines default to (its ARGs), fully qualified as podman
# stores them.
RUST_BASE="docker.io/library/rust:1-bookworm"
RUNTIME_BASE="docker.io/library/debian:bookworm-slim"
# A local base says what it is in this label: "debootstrap" (made here) or absent (pulled).
BASE_LABEL="io.scimsync.base"
# Where a local builder base expects the host's Rust toolchain and CA bundle, mounted read-only
# (deploy/image/rust-base.Containerfile makes both places).
TOOLCHAIN_MOUNT=/usr/local/rust
CA_MOUNT=/usr/local/share/host-ca-certificates.crt
HOST_CA=/etc/ssl/certs/ca-certificates.crt
DEBIAN_MIRROR="${SCIMSYNC_DEBIAN_MIRROR:-http://deb.debian.org/debian}"
PACKAGES=(podman runc debootstrap)

log() { printf 'image: %s\n' "$*" >&2; }
die() { printf 'image: error: %s\n' "$*" >&2; exit 1; }

pkg_installed() {
    [[ "$(dpkg-query -W -f='${Status}' "$1" 2>/dev/null || true)" == "install ok installed" ]]
}

cmd_install() {
    local missing=() pkg
    for pkg in "${PACKAGES[@]}"; do
        pkg_installed "$pkg" || missing+=("$pkg")
    done
    if ((${#missing[@]} == 0)); then
        log "install: ${PACKAGES[*]} are already installed"
        return 0
    fi
    [[ "$(id -u)" == 0 ]] || die "install: must run as root to install: ${missing[*]}"
    log "install: installing ${missing[*]}"
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q
    # runc named explicitly: podman depends on crun | runc, and crun fails on this kind of host
    # (see containers_conf). No recommends: buildah's CLI, slirp4netns, fuse-overlayfs and uidmap
    # serve rootless and bridged setups; builds here run as root on the host network.
    apt-get install -y -q --no-install-recommends "${missing[@]}" </dev/null
    log "install: done"
}


# --- podman's settings ------------------------------------------------------------------------

# Written on every run, so a change here reaches a storage made before it. The paths are this
# checkout's own; the rest is what this kind of host needs (docs/deploy.md, "Podman settings"):
# - runtime runc: podman's default, crun, fails to create containers on a kernel that mounts
#   cgroup v1 controllers next to a cgroup v2 hierarchy ("mixed" cgroups); runc copes.
# - cgroupfs and file events: systemd is not PID 1 here, so neither its cgroup manager nor the
#   journal is there to talk to.
# - ulimits: podman raises nofile and nproc in every container by default, beyond what this
#   host lets a process raise them to, and the runtime then refuses to start the container.
#   These fit under the host's hard limits; a build needs no more.
write_settings() {
    install -d -m 700 "$STORE" "$STORE/storage" "$STORE/run" "$STORE/tmp"
    cat >"$STORE/storage.conf" <<EOF
# Written by deploy/image/image.sh; edits are overwritten on its next run.
[storage]
driver = "overlay"
graphroot = "$STORE/storage"
runroot = "$STORE/run"
EOF
    cat >"$STORE/containers.conf" <<EOF
# Written by deploy/image/image.sh; edits are overwritten on its next run.
[containers]
default_ulimits = ["nofile=1024:1024", "nproc=4096:4096"]

[engine]
runtime = "runc"
cgroup_manager = "cgroupfs"
events_logger = "file"
events_logfile_path = "$STORE/events.log"
tmp_dir = "$STORE/tmp"
EOF
    export CONTAINERS_STORAGE_CONF="$STORE/storage.conf"
    export CONTAINERS_CONF="$STORE/containers.conf"
}

require_podman() {
    command -v podman >/dev/null || die "podman is not installed: run 'deploy/local/infra.sh install image' (make image does)"
    write_settings
}

image_exists() { podman image exists "$1"; }

# --- base images ------------------------------------------------------------------------------

# Pulls IMAGE if a registry answers (where none can be reached, this fails at once).
try_pull() {
    log "bases: pulling $1"
    podman pull --quiet "$1" >/dev/null 2>"$STORE/pull.log" && return 0
    log "bases: cannot pull $1: $(tail -n1 "$STORE/pull.log" | cut -c1-200)"
    return 1
}

# debian:bookworm-slim from Debian's archive: a minbase debootstrap (apt, dpkg, bash, coreutils:
# what the slim image holds), its package lists and caches dropped, imported as one layer.
make_runtime_base() {
    command -v debootstrap >/dev/null || die "debootstrap is not installed: run 'deploy/local/infra.sh install image' (make image does)"
    local tree="$STORE/debootstrap" t0=$SECONDS
    rm -rf "$tree"
    log "bases: debootstrap bookworm (minbase) from $DEBIAN_MIRROR"
    debootstrap --variant=minbase bookworm "$tree" "$DEBIAN_MIRROR" >"$STORE/debootstrap.log" 2>&1 \
        || { tail -n 20 "$STORE/debootstrap.log" >&2; die "debootstrap failed; see $STORE/debootstrap.log"; }
    # Everything below edits and prunes the new tree: make sure it is one.
    [[ "$tree" == "$STORE/"* && -f "$tree/etc/debian_version" ]] || die "debootstrap left no tree in $tree"
    # The sources the official image has: the release, its updates and its security updates.
    rm -f "$tree/etc/apt/sources.list"
    cat >"$tree/etc/apt/sources.list.d/debian.sources" <<EOF
Types: deb
URIs: $DEBIAN_MIRROR
Suites: bookworm bookworm-updates
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg

Types: deb
URIs: http://deb.debian.org/debian-security
Suites: bookworm-security
Components: main
Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg
EOF
    # As in the official image: apt keeps no package cache (80 MB after an `apt-get update`
    # otherwise, in whichever layer ran it), and dpkg installs no documentation but the
    # copyright files, no manual pages, no translations.
    cat >"$tree/etc/apt/apt.conf.d/docker-clean" <<'CONF'
DPkg::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
APT::Update::Post-Invoke { "rm -f /var/cache/apt/archives/*.deb /var/cache/apt/archives/partial/*.deb /var/cache/apt/*.bin || true"; };
Dir::Cache::pkgcache "";
Dir::Cache::srcpkgcache "";
CONF
    printf 'Acquire::Languages "none";\n' >"$tree/etc/apt/apt.conf.d/docker-no-languages"
    cat >"$tree/etc/dpkg/dpkg.cfg.d/docker" <<'CONF'
path-exclude /usr/share/doc/*
path-include /usr/share/doc/*/copyright
path-exclude /usr/share/man/*
path-exclude /usr/share/info/*
path-exclude /usr/share/locale/*
path-exclude /usr/share/lintian/*
CONF
    find "$tree/usr/share/doc" -mindepth 2 ! -name copyright ! -type d -delete
    rm -rf "$tree"/usr/share/man/* "$tree"/usr/share/info/* "$tree"/usr/share/locale/* \
        "$tree"/var/lib/apt/lists/* "$tree"/var/cache/apt/*.bin "$tree"/var/cache/apt/archives/*.deb \
        "$tree"/var/log/* "$tree"/tmp/*
    # The host's name and resolver are the runtime's to provide.
    : >"$tree/etc/resolv.conf"
    : >"$tree/etc/hostname"
    tar --numeric-owner --xattrs -C "$tree" -c . \
        | podman import --quiet \
            --change 'CMD ["bash"]' \
            --change "LABEL $BASE_LABEL=debootstrap" \
            --message "debootstrap --variant=minbase bookworm $DEBIAN_MIRROR" \
            - "$RUNTIME_BASE" >/dev/null
    rm -rf "$tree"
    log "bases: $RUNTIME_BASE made from Debian's archive in $((SECONDS - t0)) s"
}

# rust:1-bookworm: the runtime base plus a C toolchain (the linker, and ring's C code), with
# Rust itself mounted read-only from the host at build time (deploy/image/rust-base.Containerfile).
make_rust_base() {
    local t0=$SECONDS
    log "bases: building $RUST_BASE on $RUNTIME_BASE"
    podman build --pull=never --network host --quiet \
        --build-arg "BASE=$RUNTIME_BASE" \
        --label "$BASE_LABEL=debootstrap" \
        -f "$ROOT/deploy/image/rust-base.Containerfile" -t "$RUST_BASE" "$ROOT/deploy/image" >/dev/null
    podman image prune --force >/dev/null
    log "bases: $RUST_BASE made in $((SECONDS - t0)) s"
}

is_local_base() {
    [[ "$(podman image inspect --format "{{ index .Labels \"$BASE_LABEL\" }}" "$1" 2>/dev/null)" == debootstrap ]]
}

cmd_bases() {
    require_podman
    local pull="${SCIMSYNC_IMAGE_PULL:-1}" b
    if ! image_exists "$RUNTIME_BASE"; then
        { [[ "$pull" == 1 ]] && try_pull "$RUNTIME_BASE"; } || make_runtime_base
    fi
    if ! image_exists "$RUST_BASE"; then
        { [[ "$pull" == 1 ]] && try_pull "$RUST_BASE"; } || make_rust_base
    fi
    for b in "$RUNTIME_BASE" "$RUST_BASE"; do
        if is_local_base "$b"; then
            log "bases: $b (made from Debian's archive)"
        else
            log "bases: $b (pulled)"
        fi
    done
}

# --- the image --------------------------------------------------------------------------------

# The host's toolchain for a local builder base: its sysroot (bin/cargo, bin/rustc, lib/), which
# must be at least the workspace's rust-version (Debian 12's rustc, 1.63, is not).
host_toolchain() {
    command -v rustc >/dev/null || die "a local $RUST_BASE needs the host's Rust toolchain, and rustc is not on PATH"
    local sysroot have want
    sysroot="$(rustc --print sysroot)"
    have="$(rustc --version | awk '{print $2}')"
    want="$(awk -F'"' '/^rust-version *=/ { print $2; exit }' "$ROOT/Cargo.toml")"
    [[ -x "$sysroot/bin/cargo" ]] || die "no cargo next to rustc in $sysroot/bin"
    if [[ "$(printf '%s\n%s\n' "$want" "$have" | sort -V | head -n1)" != "$want" ]]; then
        die "the host's rustc $have is older than the workspace's rust-version $want"
    fi
    log "build: Rust $have from $sysroot, mounted read-only (the workspace needs $want)"
    echo "$sysroot"
}

# The options every build of deploy/Dockerfile takes. --pull=never: the bases are whatever
# `bases` left under the upstream names. --network host: cargo reaches crates.io and apt the
# Debian archive through the host's network, and no network is made or left behind.
build_options() {
    BUILD_OPTIONS=(--pull=never --network host --layers --force-rm
        -f "$ROOT/deploy/Dockerfile" --ignorefile "$ROOT/deploy/Dockerfile.dockerignore")
    BUILDER_MOUNTS=()
    if is_local_base "$RUST_BASE"; then
        local sysroot
        sysroot="$(host_toolchain)"
        # The host's CA bundle: HTTPS from inside the build (cargo to crates.io) must trust
        # what the host trusts, an egress proxy's own CA for one.
        BUILDER_MOUNTS=(--volume "$sysroot:$TOOLCHAIN_MOUNT:ro" --volume "$HOST_CA:$CA_MOUNT:ro")
    fi
}

# The build context, copied once into DIR: the files git tracks or would track (uncommitted
# edits included; build output and what .gitignore names left out), or, outside a git checkout,
# the tree without target/ and .local/. Both builds below read this copy: the second one finds
# every builder layer in the cache only if it sees the very files the first one did, and a tree
# that changes meanwhile (an editor, a test run writing beside the sources) would make it
# rebuild a stage without the toolchain that only the first build mounts.
snapshot_context() {
    local dir="$1"
    if git -C "$ROOT" rev-parse --is-inside-work-tree >/dev/null 2>&1; then
        git -C "$ROOT" ls-files -z --cached --others --exclude-standard --deduplicate |
            tar -C "$ROOT" --null --ignore-failed-read -T - -cf - 2>/dev/null |
            tar -C "$dir" -xf -
    else
        tar -C "$ROOT" --exclude=./target --exclude=./.local -cf - . | tar -C "$dir" -xf -
    fi
}

# Two builds of the one Dockerfile. A build's mounts reach every RUN of every stage, and leave
# their mount points behind in the layers they did not exist in: so the stages up to the
# builder are built first, with the host's toolchain and CA bundle mounted, and tagged (their
# layers are the next build's cache: the cooked dependencies above all); then the whole file,
# with no mount, which takes the builder from that cache and builds the runtime stage clean.
# Both read one snapshot of the tree (snapshot_context). Then the layers of earlier builds, no
# longer tagged, are pruned.
cmd_build() {
    cmd_bases
    local t0=$SECONDS context
    context="$(mktemp -d "$LOCAL/image-context.XXXXXX")"
    # shellcheck disable=SC2064 # the path is fixed now, on purpose
    trap "rm -rf '$context'" EXIT
    snapshot_context "$context"
    log "build: context copied to ${context#"$ROOT/"} ($(du -sh "$context" | cut -f1))"
    build_options
    log "build: deploy/Dockerfile up to its builder stage -> $BUILD_CACHE"
    podman build "${BUILD_OPTIONS[@]}" "${BUILDER_MOUNTS[@]}" --target builder -t "$BUILD_CACHE" "$context"
    log "build: deploy/Dockerfile -> $IMAGE"
    podman build "${BUILD_OPTIONS[@]}" -t "$IMAGE" "$context"
    podman image prune --force >/dev/null
    podman container prune --force >/dev/null
    log "build: $IMAGE built in $((SECONDS - t0)) s"
    cmd_sizes
}

cmd_sizes() {
    require_podman
    podman images --format '{{.Repository}}:{{.Tag}} {{.Size}}' | sed 's/^/image: /' >&2
    # -x: not into the overlay mounts of running containers, which would count layers twice.
    log "container storage: $(du -shx "$STORE" 2>/dev/null | cut -f1) in ${STORE#"$ROOT/"}"
}

cmd_check() {
    require_podman
    image_exists "$IMAGE" || die "no image $IMAGE: run make image first"
    "$ROOT/deploy/checks/python-tools.sh" >/dev/null
    exec "$LOCAL/venv/bin/python" "$ROOT/deploy/image/check.py" --image "$IMAGE" "$@"
}

cmd_clean() {
    if [[ -d "$STORE" ]]; then
        require_podman
        podman rm --all --force >/dev/null 2>&1 || true
        podman system reset --force >/dev/null 2>&1 || true
        rm -rf "$STORE"
    fi
    log "clean: removed ${STORE#"$ROOT/"}"
}

usage() {
    awk 'NR > 1 && /^#/ { sub(/^# ?/, ""); print; next } NR > 1 { exit }' "${BASH_SOURCE[0]}"
}

case "${1:-}" in
    install) cmd_install ;;
    bases) cmd_bases ;;
    build) cmd_build ;;
    check) shift; cmd_check "$@" ;;
    sizes) cmd_sizes ;;
    clean) cmd_clean ;;
    podman) shift; require_podman; exec podman "$@" ;;
    -h | --help | help) usage ;;
    *) usage >&2; exit 2 ;;
esac
