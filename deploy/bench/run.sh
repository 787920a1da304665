#!/usr/bin/env bash
# `make bench`: measures a release build of scimsync on this machine and writes the table to
# deploy/bench/results.md (see docs/benchmarks.md for what each figure means).
#
#   deploy/bench/run.sh [scimsim bench options...]    e.g. --only latency --runs 1
#
# Steps: start PostgreSQL and RabbitMQ if needed (never stops them: others use them), install
# the Python reference SCIM server (deploy/checks/python-tools.sh; the bench starts it itself),
# build the release binaries, stop the services that run (the debug ones `make up` started),
# start the release services from target/release, run `scimsim bench`, and stop the release
# services again on the way out (`make up` brings the debug ones back).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)"
cd "$ROOT"
INFRA=deploy/local/infra.sh
SERVICES=deploy/local/services.sh
RELEASE="$ROOT/target/release"

log() { printf 'bench: %s\n' "$*" >&2; }

started=$SECONDS
"$INFRA" install
"$INFRA" start
# The reference SCIM server the SCIM door is compared with (scim2-server, pinned there).
deploy/checks/python-tools.sh >/dev/null
log "building the release binaries (cargo build --release --bins)"
cargo build --release --bins
eval "$("$INFRA" env)"
"$RELEASE/scimctl" migrate

# Whatever services run now were started from some build (debug by `make up`, or release by an
# earlier bench): stop them with that build's directory, which services.sh checks them against.
running_bin_dir() {
    local pid exe
    [[ -s .local/run/ingest.pid ]] || return 0
    pid="$(tr -dc '0-9' <.local/run/ingest.pid)"
    exe="$(readlink "/proc/$pid/exe" 2>/dev/null)" || return 0
    dirname "${exe% (deleted)}"
}
SCIMSYNC_BIN_DIR="$(running_bin_dir)" "$SERVICES" stop
export SCIMSYNC_BIN_DIR="$RELEASE"
# The SCIM create-rate scenario sends one company's creates as fast as the service answers
# them: its per-company rate limit (scim.rate_per_second, 200/s by default) would measure the
# limit, not the service. Raised for the benchmark's services only.
export SCIMSYNC__SCIM__RATE_PER_SECOND=1000000 SCIMSYNC__SCIM__RATE_BURST=1000000
# On the way out, also resume workers a scenario may have paused (SIGSTOP) if it was cut short.
resume_and_stop() {
    local name
    for name in user-upsert group-resolver manager-linker; do
        [[ -s ".local/run/$name.pid" ]] && kill -CONT "$(cat ".local/run/$name.pid")" 2>/dev/null || true
    done
    "$SERVICES" stop || true
}
trap resume_and_stop EXIT
"$SERVICES" start

label="$(git rev-parse --short HEAD 2>/dev/null || echo unknown)"
if ! git diff --quiet HEAD 2>/dev/null; then
    label="$label with uncommitted changes"
fi
log "benchmarking build $label"
# From the repository root: the defaults are .local/run (pid files) and deploy/bench/results.md
# (deploy/bench/results-partial.md for an --only subset).
"$RELEASE/scimsim" bench --label "$label" "$@"
log "done in $((SECONDS - started)) s (build included)"

# The README shows the latest full table: a run of every scenario into the default results
# file replaces the one between its markers (the machine line and the table); a partial run
# (--only) or one written elsewhere (--results) leaves it alone.
for arg in "$@"; do
    case "$arg" in
    --only | --only=* | --results | --results=*)
        log "partial or redirected run: README.md keeps its table"
        exit 0
        ;;
    esac
done
deploy/bench/readme-table.sh deploy/bench/results.md README.md
log "README.md now shows this table"
