"""The severity classifier: training, evaluation, and the model a process serves. No Flask.

The pipeline: word (1-2) and character (2-5, within words) TF-IDF over the case's text, one-hot
structured fields (and their pairwise combinations), and a linear SVM with balanced class weights
(inflected languages share character n-grams; balanced weights serve macro-F1). An SVM gives
margins, not probabilities: `probabilities` are a softmax of the margins with a temperature fitted
on held-out cases (temperature scaling, never sharper than the raw margins), which keeps the
predicted level and makes the confidence usable as a threshold.
"""
import csv
import hashlib
import io
import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import train_test_split
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC

MIN_PER_LEVEL = 5  # fewer examples of a level than this cannot be learnt or measured
MAX_TEXT = 4000  # characters of a case's text the model reads (the opening; stack traces run on)
csv.field_size_limit(16 * 1024 * 1024)


class TrainingError(ValueError):
    """The data cannot train a model; the message says why, in the analyst's terms."""


@dataclass(frozen=True)
class Columns:
    """Which columns of the data are text, label and structured features, and how labels map to levels."""

    text: tuple[str, ...]
    label: str
    label_map: dict  # raw label -> severity level 1-4
    features: tuple[str, ...] = ()

    def to_dict(self) -> dict:
        return {"text_columns": list(self.text), "label_column": self.label, "label_map": self.label_map,
                "feature_columns": list(self.features)}


def parse_label_map(text: str) -> dict:
    """'high=2,medium=3,low=4' -> {'high': 2, 'medium': 3, 'low': 4}."""
    mapping = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        raw, sep, level = part.rpartition("=")
        if not sep or not raw or level not in ("1", "2", "3", "4"):
            raise TrainingError(f"label map entry {part!r} is not LABEL=LEVEL with a level 1-4")
        mapping[raw] = int(level)
    if not mapping:
        raise TrainingError("the label map is empty")
    return mapping


def read_rows(path: Path) -> tuple[list[dict], str]:
    """Rows of a CSV (with a header) or JSON Lines file, and the sha256 of the file's bytes."""
    path = Path(path)
    if not path.exists():
        raise TrainingError(f"{path}: no such file")
    data = path.read_bytes()
    digest = hashlib.sha256(data).hexdigest()
    text = data.decode("utf-8-sig")
    if path.suffix.lower() in (".jsonl", ".ndjson", ".json"):
        rows = []
        for number, line in enumerate(text.splitlines(), 1):
            if line.strip():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError as exc:
                    raise TrainingError(f"{path}: line {number} is not JSON: {exc.msg}") from None
                if not isinstance(row, dict):
                    raise TrainingError(f"{path}: line {number} is not a JSON object")
                rows.append(row)
    elif path.suffix.lower() == ".csv":
        rows = list(csv.DictReader(io.StringIO(text)))
    else:
        raise TrainingError(f"{path}: give a .csv (with a header row) or a .jsonl file")
    if not rows:
        raise TrainingError(f"{path}: the file has no rows")
    return rows, digest


def prepare(rows: list[dict], columns: Columns, need_labels: bool = True) -> tuple[list[dict], np.ndarray]:
    """Model inputs (text and features per row) and severity levels; refuse what cannot be used."""
    present = set(rows[0])
    wanted = [*columns.text, *columns.features, *([columns.label] if need_labels else [])]
    missing = [c for c in wanted if c not in present]
    if missing:
        raise TrainingError(f"missing column(s) {', '.join(missing)}; the data has {', '.join(sorted(present))}")
    inputs = [as_input({c: _text(row.get(c)) for c in columns.text}, {c: _text(row.get(c)) for c in columns.features})
              for row in rows]
    if not need_labels:
        return inputs, np.array([])
    raw = [_text(row.get(columns.label)) for row in rows]
    unmapped = Counter(label for label in raw if label not in columns.label_map)
    if unmapped:
        listed = ", ".join(f"{label!r} ({count})" for label, count in unmapped.most_common())
        raise TrainingError(f"unmapped label(s) in {columns.label}: {listed}; add them to the label map")
    levels = np.array([columns.label_map[label] for label in raw])
    return inputs, levels


def check_levels(levels: np.ndarray) -> None:
    counts = Counter(levels.tolist())
    if len(counts) < 2:
        raise TrainingError(f"only one severity level in the data ({next(iter(counts))}); a model needs at least two")
    few = {level: n for level, n in sorted(counts.items()) if n < MIN_PER_LEVEL}
    if few:
        listed = ", ".join(f"level {level}: {n}" for level, n in few.items())
        raise TrainingError(f"too few examples ({listed}); each level needs at least {MIN_PER_LEVEL}, "
                            "or map its labels to a neighbouring level")


def as_input(texts: dict, features: dict) -> dict:
    """One model input: the text fields joined, and the structured fields."""
    return {"text": "\n".join(t for t in texts.values() if t)[:MAX_TEXT], "features": dict(features)}


def _text(value) -> str:
    return "" if value is None else str(value)


# module-level (not lambdas) so a saved pipeline can be loaded again
def texts_of(inputs) -> list[str]:
    return [item["text"] for item in inputs]


def features_of(inputs) -> list[dict]:
    out = []
    for item in inputs:
        features = {name: value for name, value in item["features"].items() if value}
        names = sorted(features)
        for i, first in enumerate(names):  # pairs: a queue and a type together say more than apart
            for second in names[i + 1:]:
                features[f"{first}|{second}"] = f"{features[first]}|{features[second]}"
        out.append(features)
    return out


def build_pipeline(with_features: bool, c: float = 0.5) -> Pipeline:
    parts = [
        ("words", Pipeline([("text", FunctionTransformer(texts_of)),
                            ("tfidf", TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True))])),
        ("chars", Pipeline([("text", FunctionTransformer(texts_of)),
                            ("tfidf", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2,
                                                      sublinear_tf=True, max_features=300_000))])),
    ]
    if with_features:
        parts.append(("fields", Pipeline([("pick", FunctionTransformer(features_of)), ("onehot", DictVectorizer())])))
    return Pipeline([("features", FeatureUnion(parts)), ("svm", LinearSVC(C=c, class_weight="balanced"))])


@dataclass
class SeverityModel:
    """What is saved: the fitted pipeline, the levels it knows, and the softmax temperature."""

    pipeline: Pipeline
    levels: tuple[int, ...]
    temperature: float = 1.0
    columns: dict = field(default_factory=dict)

    def margins(self, inputs: list[dict]) -> np.ndarray:
        """The SVM's margins. For a few cases (serving) they are computed from the fitted vectorizers'
        and the SVM's public attributes, without scikit-learn's per-call validation and sparse
        matrices, which cost over a millisecond for one case; the arithmetic is the same (tests compare
        it with the pipeline's decision_function, which batches use)."""
        if len(inputs) > 16:
            scores = self.pipeline.decision_function(inputs)
        else:
            union, svm = self.pipeline.named_steps["features"], self.pipeline.named_steps["svm"]
            scores = np.array([_margins_of_one(item, union, svm) for item in inputs])
        return scores if scores.ndim == 2 else np.column_stack([-scores, scores])

    def probabilities(self, inputs: list[dict]) -> np.ndarray:
        return _softmax(self.margins(inputs) / self.temperature)

    def predict(self, inputs: list[dict]) -> np.ndarray:
        return np.array(self.levels)[self.margins(inputs).argmax(axis=1)]


_ANALYZERS: dict = {}  # id(vectorizer) -> (vectorizer, its analyzer); analyzers do not pickle, so not saved


def _margins_of_one(item: dict, union: FeatureUnion, svm: LinearSVC) -> np.ndarray:
    indices, values, offset = [], [], 0
    for _, steps in union.transformer_list:
        pick, vectorizer = steps.steps[0][1].func, steps.steps[1][1]
        block_indices, block_values = _weights(vectorizer, pick([item])[0])
        indices.append(block_indices + offset)
        values.append(block_values)
        offset += len(vectorizer.vocabulary_)
    indices, values = np.concatenate(indices), np.concatenate(values)
    scores = svm.coef_[:, indices] @ values + svm.intercept_
    return scores if len(scores) > 1 else scores[0]


def _weights(vectorizer, value) -> tuple[np.ndarray, np.ndarray]:
    """The non-zero columns and values one input gets from a fitted TfidfVectorizer or DictVectorizer."""
    vocabulary = vectorizer.vocabulary_
    if isinstance(vectorizer, DictVectorizer):
        found = [vocabulary[key] for key in (f"{n}{vectorizer.separator}{v}" for n, v in value.items()) if key in vocabulary]
        return np.array(found, dtype=int), np.ones(len(found))
    cached = _ANALYZERS.get(id(vectorizer))
    if cached is None or cached[0] is not vectorizer:
        cached = _ANALYZERS[id(vectorizer)] = (vectorizer, vectorizer.build_analyzer())
    counts = Counter(index for index in map(vocabulary.get, cached[1](value)) if index is not None)
    indices = np.fromiter(counts.keys(), dtype=int, count=len(counts))
    weights = np.fromiter(counts.values(), dtype=float, count=len(counts))
    if vectorizer.sublinear_tf:
        weights = np.log(weights) + 1
    weights *= vectorizer.idf_[indices]
    norm = np.sqrt(weights @ weights)
    return indices, (weights / norm if norm else weights)


def _softmax(scores: np.ndarray) -> np.ndarray:
    shifted = np.exp(scores - scores.max(axis=1, keepdims=True))
    return shifted / shifted.sum(axis=1, keepdims=True)


def fit_temperature(margins: np.ndarray, truth_index: np.ndarray) -> float:
    """The temperature that minimises the log-loss of softmax(margins / T) on held-out cases, never
    below 1: on held-out cases the model separates perfectly the optimum runs to T -> 0 and would make
    every answer, even on text unlike the training data, look certain."""
    def loss(t):
        probs = _softmax(margins / t)
        return -np.log(probs[np.arange(len(truth_index)), truth_index] + 1e-12).mean()

    return float(minimize_scalar(loss, bounds=(1.0, 20.0), method="bounded").x)


def train(inputs: list[dict], levels: np.ndarray, with_features: bool, progress=lambda step: None,
          holdout: float = 0.2, seed: int = 0) -> tuple[SeverityModel, dict]:
    """Fit on all but a held-out share (metrics and the temperature come from it), then refit on all."""
    check_levels(levels)
    train_x, test_x, train_y, test_y = train_test_split(inputs, levels, test_size=holdout, random_state=seed,
                                                        stratify=levels)
    progress("fitting on the training share")
    held = SeverityModel(build_pipeline(with_features).fit(train_x, train_y), tuple(sorted(set(levels.tolist()))))
    progress("measuring on the held-out share")
    margins = held.margins(test_x)
    index = {level: i for i, level in enumerate(held.levels)}
    temperature = fit_temperature(margins, np.array([index[y] for y in test_y]))
    metrics = evaluate(held, test_x, test_y)
    progress("fitting on all rows")
    final = SeverityModel(build_pipeline(with_features).fit(inputs, levels), held.levels, temperature)
    return final, metrics


def evaluate(model: SeverityModel, inputs: list[dict], levels: np.ndarray) -> dict:
    """Accuracy, macro-F1, per-level precision/recall/F1/support and the confusion matrix."""
    predicted = model.predict(inputs)
    labels = sorted(set(model.levels) | set(levels.tolist()))
    precision, recall, f1, support = precision_recall_fscore_support(levels, predicted, labels=labels, zero_division=0)
    return {
        "rows": int(len(levels)),
        "accuracy": round(float(accuracy_score(levels, predicted)), 4),
        "macro_f1": round(float(f1_score(levels, predicted, labels=labels, average="macro", zero_division=0)), 4),
        "per_level": {str(level): {"precision": round(float(p), 4), "recall": round(float(r), 4),
                                   "f1": round(float(f), 4), "support": int(s)}
                      for level, p, r, f, s in zip(labels, precision, recall, f1, support)},
        "levels": labels,
        "confusion_matrix": confusion_matrix(levels, predicted, labels=labels).tolist(),
    }
