#!/bin/sh
# Install ragline with one pip extra. The images and CI run this same script, so an image's
# dependency set is the one CI tested.
#
#   services/install.sh EXTRA [PIP_ARGS...]     EXTRA: api | ui | worker | local | dev
#
# Env:
#   SRC              project directory holding pyproject.toml (default /src, the images' build dir)
#   PYTHON           interpreter whose pip installs (default: python on PATH)
#   TORCH_INDEX_URL  extra index for the CPU-only torch wheel, used for the extras that pull torch
#                    (default https://download.pytorch.org/whl/cpu; empty: none, e.g. when the
#                    machine's own index already serves a CPU torch 2.13.0 wheel)
# Extra PIP_ARGS go to pip as they are (the tests pass --dry-run --report -; the images' second
# call passes --no-deps --force-reinstall to put the real package over the dependency layer).
set -eu

if [ "$#" -lt 1 ]; then
    echo "usage: $0 EXTRA [PIP_ARGS...]   (EXTRA: api | ui | worker | local | dev)" >&2
    exit 2
fi
extra="$1"
shift
case "$extra" in
    # No torch in these: nothing to add to PyPI.
    api | ui) ;;
    # torch==2.13.0 from the CPU index is 2.13.0+cpu, which pip prefers over PyPI's CUDA build
    # of the same version (a local version label sorts higher) and which brings no nvidia-* wheels.
    worker | local | dev)
        torch_index="${TORCH_INDEX_URL-https://download.pytorch.org/whl/cpu}"
        if [ -n "$torch_index" ]; then
            set -- --extra-index-url "$torch_index" "$@"
        fi
        ;;
    *)
        echo "unknown extra '$extra' (expected api, ui, worker, local or dev)" >&2
        exit 2
        ;;
esac

exec "${PYTHON:-python}" -m pip install --no-cache-dir "$@" "${SRC:-/src}[$extra]"
