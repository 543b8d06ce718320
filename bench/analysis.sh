#!/usr/bin/env bash
# Figures for the transcript analysis, against the Python reference, in one run:
#   - sentiment accuracy: Pearson r with the mean human rating (VADER's ground truth), for
#     `leadscore sentiment` and for vaderSentiment 3.3.2 itself;
#   - speed on one core: transcripts/s and MB/s for leadscore's analysis and for a Python
#     reference doing less work (vaderSentiment per utterance + YAKE keywords), same corpus;
#   - peak memory and time on a one-hour transcript.
# Usage: bench/analysis.sh [DATA_DIR]   (DATA_DIR defaults to ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data}
[ -d "$DATA/sentiment_groundtruth" ] || { echo "no data at $DATA: pass the data folder as the first argument" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q vaderSentiment==3.3.2 yake==0.7.1
cargo build --release -q -p leadscore -p leadscore-bench
"$WORK/venv/bin/python" bench/analysis.py --data "$DATA" --work "$WORK" --bin target/release
