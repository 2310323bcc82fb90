#!/usr/bin/env bash
# The CUDA checks and GPU timings, for a machine with a CUDA GPU and the gpu extra installed:
# the cuda-marked tests (nvdiffrast against the CPU renderer, the face model and the photometric fit
# on the GPU), then A2EP training and inference, TAFT/MAFB and the renderer timed on the GPU.
# Usage: bash bench/gpu.sh   (PYTHON=... to choose the interpreter)
set -u
python=${PYTHON:-python}
failed=()

step() {
    echo "=== $*"
    "$@" || failed+=("$*")
}

step "$python" -m pytest -q -m cuda -s tests/test_render.py tests/test_face_model.py tests/test_fitting_optimize.py
step "$python" bench/a2ep.py --device cuda --parts train --steps 5
step "$python" bench/taft.py --device cuda --iters 10 --vgg
step "$python" bench/render.py --batches 1,8 --iters 10
step "$python" bench/a2ep.py --device cuda --parts predict --configs base

if ((${#failed[@]})); then
    printf 'failed: %s\n' "${failed[@]}"
    exit 1
fi
echo "all GPU checks passed"
