#!/usr/bin/env bash
# Figures for the scoring model, against scikit-learn, in one run and on the same folds:
#   - cross-validated AUC, Brier score and a time-ordered split on the bank marketing calls,
#     without `duration` (known only after the call) and with it;
#   - training time: leadscore's whole `train` command vs. scikit-learn's 5 fits per model.
# Usage: bench/model.sh [DATA_DIR]   (DATA_DIR defaults to ../shared/data)
set -euo pipefail
cd "$(dirname "$0")/.."
DATA=${1:-../shared/data}
CSV="$DATA/bank_marketing/bank-additional-full.csv"
[ -f "$CSV" ] || { echo "no $CSV: pass the data folder as the first argument" >&2; exit 2; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
python3 -m venv "$WORK/venv"
"$WORK/venv/bin/pip" install -q scikit-learn==1.5.2 pandas==2.2.3 numpy==2.1.3
cargo build --release -q -p leadscore -p leadscore-bench
target/release/model-bench train "$CSV" y yes duration | head -3
"$WORK/venv/bin/python" bench/model.py --csv "$CSV" --bin target/release --work "$WORK"
