#!/usr/bin/env bash
# The main job on the embedded default: run the whole DVC pipeline (synthetic speakers -> slice ->
# 3DMM fitting -> audio features -> A2EP -> MAFB blending -> TAFT -> evaluation), then drive a
# held-out demo clip with the speech of an unseen speaker.
set -euo pipefail
cd "$(dirname "$0")/.."
# shellcheck disable=SC1091
source .venv/bin/activate
export DVC_NO_ANALYTICS=1 HF_HUB_OFFLINE=1 TRANSFORMERS_OFFLINE=1

start=$(date +%s)
dvc repro
echo "pipeline finished in $(( $(date +%s) - start )) s"

speech=$(awk -F, 'NR > 1 && $NF == "test" { print "data/raw/demo/" $1 ".mp4"; exit }' data/raw/demo/manifest.csv)
reference=$(awk -F, 'NR > 1 && $NF == "val" { print "data/clips/" $1; exit }' data/raw/demo/manifest.csv)
gsmoothface generate --audio "$speech" --reference "$reference" --out results/demo/generated.mp4

echo
echo "generated video: results/demo/generated.mp4  (speech of ${speech}, face of ${reference})"
echo "metrics:         results/eval/metrics.json    (dvc metrics show)"
echo "side by side:    results/eval/videos/"
