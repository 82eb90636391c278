#!/usr/bin/env bash
# Build ragline's four images on this machine, with no image registry and no CPU wheel index:
# the base images first (scripts/build-base-images.sh: local stand-ins, only when missing), then the
# project's Dockerfiles, unchanged, with the torch CPU wheel of pip's find-links folder put into the
# workers' build context (services/wheels/) and TORCH_INDEX_URL empty. Docker's layer cache makes a
# second run take seconds when nothing changed.
#
#   scripts/build-images.sh [--torch] [IMAGE...]     IMAGE: api ingest-worker query-worker ui (default: all)
#
# Tags: ragline-IMAGE:local (the names docker-compose.yml uses); --torch builds the workers with
# EMBEDDING_RUNTIME=torch as ragline-IMAGE:local-torch instead. Prints each step's time.
#
# Env: DOCKER (default /usr/bin/docker), TAG (default local), TORCH_WHEEL_DIR (default: pip's
#      find-links folder), HOST_PYTHON (default python3), LOG_DIR (each build's log; default
#      test-artifacts/logs).
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DOCKER="${DOCKER:-/usr/bin/docker}"
export DOCKER DOCKER_BUILDKIT=1
HOST_PYTHON="${HOST_PYTHON:-python3}"
TAG="${TAG:-local}"
LOG_DIR="${LOG_DIR:-$ROOT/test-artifacts/logs}"
mkdir -p "$LOG_DIR"
runtime=onnx-int8
if [ "${1:-}" = --torch ]; then
    runtime=torch
    TAG="$TAG-torch"
    shift
fi
images=("$@")
[ ${#images[@]} -gt 0 ] || images=(api ingest-worker query-worker ui)

start=$SECONDS
"$ROOT/scripts/build-base-images.sh"
echo "base images: $((SECONDS - start)) s"

# The torch CPU wheel, where the workers' build stage looks for wheels (a hard link when possible).
stage_torch_wheel() {
    local dir="${TORCH_WHEEL_DIR:-}"
    if [ -z "$dir" ]; then
        dir="$("$HOST_PYTHON" -m pip config list 2>/dev/null | sed -n "s/^[a-z:.]*find-links='\\(.*\\)'\$/\\1/p" | tail -1)"
    fi
    local wheel
    wheel="$(ls "${dir:-/nonexistent}"/torch-*+cpu-*.whl 2>/dev/null | sort | tail -1 || true)"
    if [ -z "$wheel" ]; then
        echo "no torch CPU wheel in '${dir}': the worker builds use TORCH_INDEX_URL's default index" >&2
        return 1
    fi
    local dest="$ROOT/services/wheels/$(basename "$wheel")"
    if ! cmp -s "$wheel" "$dest" 2>/dev/null; then
        ln -f "$wheel" "$dest" 2>/dev/null || cp "$wheel" "$dest"
    fi
}

torch_args=()
for image in "${images[@]}"; do
    case "$image" in
        ingest-worker | query-worker)
            if stage_torch_wheel; then torch_args=(--build-arg TORCH_INDEX_URL=); fi
            break
            ;;
    esac
done

for image in "${images[@]}"; do
    dockerfile="$ROOT/services/$image/Dockerfile"
    [ -f "$dockerfile" ] || { echo "unknown image '$image'" >&2; exit 2; }
    args=()
    case "$image" in
        ingest-worker | query-worker) args=("${torch_args[@]}" --build-arg "EMBEDDING_RUNTIME=$runtime") ;;
        *) [ "$runtime" = onnx-int8 ] || continue ;;
    esac
    start=$SECONDS
    log="$LOG_DIR/build-$image-$TAG.log"
    if ! "$DOCKER" build --progress=plain -f "$dockerfile" "${args[@]}" -t "ragline-$image:$TAG" "$ROOT" >"$log" 2>&1; then
        tail -40 "$log" >&2
        echo "building ragline-$image:$TAG failed: the whole log is $log" >&2
        exit 1
    fi
    echo "ragline-$image:$TAG: $((SECONDS - start)) s"
done
