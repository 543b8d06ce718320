"""The reference for `bench/model.sh`: scikit-learn on the same rows, columns and folds as
leadscore's `train` (the folds come from `model-bench`), then both side by side.

Logistic regression: one-hot categories, standardised numbers, lbfgs (what the issue's 0.791
comes from); gradient boosting: GradientBoostingClassifier with its defaults (the 0.804).
"""
import argparse
import json
import subprocess
import time

import numpy as np
import pandas as pd
from sklearn.compose import ColumnTransformer
from sklearn.ensemble import GradientBoostingClassifier
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import brier_score_loss, roc_auc_score
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def models(numeric, categorical):
    prep = lambda: ColumnTransformer([
        ("num", StandardScaler(), numeric),
        ("cat", OneHotEncoder(handle_unknown="ignore"), categorical),
    ])
    return {
        "logistic": lambda: make_pipeline(prep(), LogisticRegression(max_iter=1000)),
        "gradient boosting": lambda: make_pipeline(prep(), GradientBoostingClassifier(random_state=0)),
    }


def reference(csv, target, positive, drop, folds_file):
    df = pd.read_csv(csv, sep=None, engine="python")
    y = (df[target].astype(str).str.strip().str.lower() == positive.lower()).to_numpy()
    X = df.drop(columns=[target] + drop)
    numeric = [c for c in X.columns if pd.api.types.is_numeric_dtype(X[c])]
    categorical = [c for c in X.columns if c not in numeric]
    folds = np.loadtxt(folds_file, dtype=int)
    out = {}
    for name, make in models(numeric, categorical).items():
        started = time.perf_counter()
        oof = np.zeros(len(y))
        for k in np.unique(folds):
            model = make().fit(X[folds != k], y[folds != k])
            oof[folds == k] = model.predict_proba(X[folds == k])[:, 1]
        seconds = time.perf_counter() - started
        cut = int(len(y) * 0.8)
        late = make().fit(X.iloc[:cut], y[:cut]).predict_proba(X.iloc[cut:])[:, 1]
        out[name] = {
            "auc": roc_auc_score(y, oof),
            "brier": brier_score_loss(y, oof),
            "time_split_auc": roc_auc_score(y[cut:], late),
            "cv_seconds": seconds,
        }
    return out


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--csv", required=True)
    p.add_argument("--bin", required=True)
    p.add_argument("--work", required=True)
    a = p.parse_args()
    for label, drop in [("without `duration` (known only after the call)", ["duration"]), ("with `duration`", [])]:
        folds = f"{a.work}/folds.txt"
        ours = subprocess.run(
            [f"{a.bin}/model-bench", "train", a.csv, "y", "yes", ",".join(drop), folds],
            check=True, capture_output=True, text=True,
        ).stdout
        figures = json.loads(ours.strip().splitlines()[-1])
        started = time.perf_counter()
        subprocess.run(
            [f"{a.bin}/leadscore", "--data-dir", f"{a.work}/data", "train", "--csv", a.csv,
             "--target", "y", "--positive", "yes", "--dry-run", "--json"]
            + (["--drop", ",".join(drop)] if drop else []),
            check=True, capture_output=True,
        )
        cli_seconds = time.perf_counter() - started
        ref = reference(a.csv, "y", "yes", drop, folds)
        print(f"\n== bank marketing, 41,188 calls, {label}; 5-fold stratified CV, same folds ==")
        print(ours.strip().splitlines()[0])
        print(f"{'':28}{'AUC':>8}{'Brier':>8}{'time-split AUC':>16}{'seconds':>9}")
        for c in figures["candidates"]:
            print(f"{'leadscore ' + c['kind']:28}{c['auc']:8.4f}{'':8}{c['time_split_auc']:16.4f}")
        print(f"{'leadscore train (' + figures['kind'] + ',':28}")
        print(f"{'  calibrated)':28}{figures['auc']:8.4f}{figures['brier']:8.4f}"
              f"{figures['time_split_auc']:16.4f}{cli_seconds:9.1f}   (whole command, both models)")
        for name, r in ref.items():
            print(f"{'scikit-learn ' + name:28}{r['auc']:8.4f}{r['brier']:8.4f}"
                  f"{r['time_split_auc']:16.4f}{r['cv_seconds']:9.1f}   (5 fits)")
        best = max(r["auc"] for r in ref.values())
        print(f"AUC ratio, leadscore / best scikit-learn: {figures['auc'] / best:.4f}; "
              f"calibration error {figures['calibration_error']:.4f}")


if __name__ == "__main__":
    main()
