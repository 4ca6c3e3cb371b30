"""Classifier quality on the shared labelled sets: prints numbers, asserts nothing.

Each set is split 80/20 (stratified, fixed seed); the model is trained on the 80% exactly as
`triage model train` trains (a held-out share for metrics and temperature, then a refit) and scored
on the 20%. Also: training time, the p99 time to predict one case (the median of three passes), and the
artifact's size.
The sets are not part of the project (non-commercial licences): where ../shared/data is absent the
benchmark says so and skips. Usage: python bench/classifier.py [SET ...]
"""

import sys
import tempfile
import time
from pathlib import Path

import joblib
import numpy as np
from sklearn.model_selection import train_test_split

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from app.classifier.model import Columns, evaluate, prepare, read_rows, train  # noqa: E402

DATA = ROOT.parent / "shared" / "data"
SETS = [  # name, folder, columns, reference (TF-IDF + LR, from the data README), target
    (
        "tickets-multilang",
        Columns(("subject", "body"), "priority", {"high": 2, "medium": 3, "low": 4}, ("queue", "type", "language")),
        0.539,
        0.58,
    ),
    (
        "tickets-de-5level",
        Columns(("subject", "body"), "priority", {"critical": 1, "high": 2, "medium": 3, "low": 4, "very_low": 4}, ("queue",)),
        0.843,
        0.88,
    ),
    (
        "jira-hadoop",
        Columns(("Summary", "Description"), "Priority", {"Blocker": 1, "Critical": 2, "Major": 3, "Minor": 4, "Trivial": 4}),
        0.430,
        0.47,
    ),
]


def main():
    if not DATA.exists():
        print(f"skipped: {DATA} is absent (the labelled sets live outside the project)")
        return
    print(f"{'set':18s} {'rows':>6s} {'macro-F1':>9s} {'ref':>6s} {'target':>7s} {'train s':>8s} {'p99 ms':>7s} {'MB':>5s}")
    chosen = sys.argv[1:]  # set names; all by default
    for name, columns, reference, target in SETS:
        if chosen and name not in chosen:
            continue
        rows, _ = read_rows(DATA / name / "train.csv")
        inputs, levels = prepare(rows, columns)
        train_x, test_x, train_y, test_y = train_test_split(inputs, levels, test_size=0.2, random_state=42, stratify=levels)
        started = time.perf_counter()
        model, _ = train(train_x, train_y, bool(columns.features))
        seconds = time.perf_counter() - started
        score = evaluate(model, test_x, test_y)["macro_f1"]
        model.one_case()  # built when the registry loads a model, before any request
        p99s = []  # three passes over 500 held-out cases: this machine's speed drifts by half from minute to minute
        for _ in range(3):
            latencies = []
            for item in test_x[:500]:
                begin = time.perf_counter()
                model.probabilities([item])
                latencies.append((time.perf_counter() - begin) * 1000)
            p99s.append(np.percentile(latencies, 99))
        with tempfile.NamedTemporaryFile(suffix=".joblib") as handle:
            joblib.dump(model, handle.name, compress=3)
            size = Path(handle.name).stat().st_size / 1e6
        verdict = "ok" if score >= target else "BELOW TARGET"
        print(
            f"{name:18s} {len(rows):6d} {score:9.3f} {reference:6.3f} {target:7.2f} {seconds:8.1f} "
            f"{np.median(p99s):7.2f} {size:5.1f}  {verdict}  (p99 per pass: {', '.join(f'{p:.2f}' for p in p99s)} ms)",
            flush=True,
        )


if __name__ == "__main__":
    main()
