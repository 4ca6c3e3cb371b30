"""The severity classifier: training, evaluation, and the model a process serves. No Flask.

The pipeline: word (1-2) and character (2-5, within words) TF-IDF over the case's text, one-hot
structured fields (and their pairwise combinations), and a linear classifier with balanced class
weights (inflected languages share character n-grams; balanced weights serve macro-F1): a linear SVM,
or logistic regression where it does clearly better on cases it was not trained on (see choose()). `probabilities` are a softmax
of the margins with a temperature fitted on held-out cases (temperature scaling, never sharper than
the raw margins), which keeps the predicted level and makes the confidence usable as a threshold.
A model may also keep its training cases as precedents (app.precedents) where that helped.
"""

import csv
import hashlib
import io
import json
import threading
from collections import Counter
from contextlib import contextmanager
from dataclasses import dataclass, replace
from pathlib import Path

import numba
import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.feature_extraction import DictVectorizer
from sklearn.feature_extraction.text import TfidfVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import accuracy_score, confusion_matrix, f1_score, precision_recall_fscore_support
from sklearn.model_selection import StratifiedKFold, train_test_split
from sklearn.pipeline import FeatureUnion, Pipeline
from sklearn.preprocessing import FunctionTransformer
from sklearn.svm import LinearSVC

from app.classifier.ngrams import columns_finder
from app.classifier.precedents import THRESHOLDS, Precedents, lean

MIN_PER_LEVEL = 5  # fewer examples of a level than this cannot be learnt or measured
MAX_TEXT = 4000  # characters of a case's text the model reads (the opening; stack traces run on)
MAX_CHAR_TEXT = 1500  # of which its character n-grams read this many (they cost ~4 per character;
# on the Hadoop Jira set 1,500 scored as well as 4,000 over five splits)
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
        return {
            "text_columns": list(self.text),
            "label_column": self.label,
            "label_map": self.label_map,
            "feature_columns": list(self.features),
        }


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
    inputs = [
        as_input({c: _text(row.get(c)) for c in columns.text}, {c: _text(row.get(c)) for c in columns.features}) for row in rows
    ]
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
        raise TrainingError(
            f"too few examples ({listed}); each level needs at least {MIN_PER_LEVEL}, or map its labels to a neighbouring level"
        )


def as_input(texts: dict, features: dict) -> dict:
    """One model input: the text fields joined, and the structured fields."""
    return {"text": "\n".join(t for t in texts.values() if t)[:MAX_TEXT], "features": dict(features)}


def _text(value) -> str:
    return "" if value is None else str(value)


class _NoBar:
    """A progress bar that shows nothing (the default, and for callers without a terminal)."""

    def __enter__(self):
        return self

    def __exit__(self, *exc) -> None:
        return None

    def update(self, n: int = 1) -> None:
        pass


def no_bars(total: int, description: str, leave: bool = True) -> _NoBar:
    """The `bars` train() takes: a factory of progress bars (tqdm's signature, in short)."""
    return _NoBar()


_watching = threading.local()  # while training: the bars factory, for the vectorisers' passes over the texts


@contextmanager
def watching(bars):
    """Within: every pass of a TF-IDF vectoriser over the texts of many cases shows a bar (serving,
    one case at a time, never does)."""
    _watching.bars = bars
    try:
        yield
    finally:
        _watching.bars = None


class _Watched(list):
    """Texts that advance a progress bar as a vectoriser reads them (CountVectorizer reads its
    documents in one pass, for fitting and for transforming)."""

    def __init__(self, texts: list[str], bars, description: str):
        super().__init__(texts)
        self.bars, self.description = bars, description

    def __iter__(self):
        with self.bars(len(self), self.description, leave=False) as bar:
            for text in super().__iter__():
                yield text
                bar.update()


def _documents(texts: list[str], description: str) -> list[str]:
    bars = getattr(_watching, "bars", None)
    return texts if bars is None or len(texts) < 100 else _Watched(texts, bars, description)


# module-level (not lambdas) so a saved pipeline can be loaded again
def texts_of(inputs) -> list[str]:
    return _documents([item["text"] for item in inputs], "vectorising words")


def openings_of(inputs) -> list[str]:
    return _documents([item["text"][:MAX_CHAR_TEXT] for item in inputs], "vectorising characters")


def features_of(inputs) -> list[dict]:
    out = []
    for item in inputs:
        features = {name: value for name, value in item["features"].items() if value}
        names = sorted(features)
        for i, first in enumerate(names):  # pairs: a queue and a type together say more than apart
            for second in names[i + 1 :]:
                features[f"{first}|{second}"] = f"{features[first]}|{features[second]}"
        out.append(features)
    return out


# The classifiers train() chooses between by macro-F1 on cases they were not trained on; the first
# is the default, another must beat it by more than those cases' noise (see choose()). Both weigh
# the levels as if equally common (macro-F1 counts a rare level as much as a common one). The SVM does
# better where text separates the levels well; logistic regression where one level dominates (on
# the Hadoop Jira set, 69% "Major", it finds more of the rare blockers).
CLASSIFIERS = {  # name -> (kind, its options)
    "svm": (LinearSVC, {"C": 0.5, "class_weight": "balanced"}),
    "logistic": (LogisticRegression, {"C": 0.5, "class_weight": "balanced", "max_iter": 1000, "tol": 1e-3}),
}


BOOTSTRAP_ROUNDS = 300
CROSS_VALIDATE_ROWS = 3000


def new_classifier(name: str):
    kind, options = CLASSIFIERS[name]
    return kind(**options)


def build_features(with_features: bool) -> FeatureUnion:
    parts = [
        (
            "words",
            Pipeline(
                [
                    ("text", FunctionTransformer(texts_of)),
                    ("tfidf", TfidfVectorizer(ngram_range=(1, 2), min_df=1, sublinear_tf=True)),
                ]
            ),
        ),
        (
            "chars",
            Pipeline(
                [
                    ("text", FunctionTransformer(openings_of)),
                    (
                        "tfidf",
                        TfidfVectorizer(
                            analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True, max_features=300_000
                        ),
                    ),
                ]
            ),
        ),
    ]
    if with_features:
        parts.append(("fields", Pipeline([("pick", FunctionTransformer(features_of)), ("onehot", DictVectorizer())])))
    return FeatureUnion(parts)


def build_pipeline(with_features: bool, classifier: str) -> Pipeline:
    return Pipeline([("features", build_features(with_features)), ("classifier", new_classifier(classifier))])


@dataclass
class SeverityModel:
    """What is saved: the fitted pipeline, the levels it knows, the softmax temperature, and the
    training cases as precedents (None where train() found they did not help)."""

    pipeline: Pipeline
    levels: tuple[int, ...]
    temperature: float = 1.0
    precedents: Precedents | None = None

    @property
    def precedent_threshold(self) -> float | None:
        return None if self.precedents is None else self.precedents.threshold

    @property
    def classifier(self) -> str:
        """Which of CLASSIFIERS the pipeline ends in."""
        step = self.pipeline.named_steps["classifier"]
        return next(name for name, (kind, _) in CLASSIFIERS.items() if isinstance(step, kind))

    def margins(self, inputs: list[dict]) -> np.ndarray:
        """The classifier's margins (for logistic regression, the logits). A batch goes through
        scikit-learn; a few cases (serving) through `OneCase`, which computes the same numbers
        without scikit-learn's per-call validation, sparse matrices and string n-grams (tests compare
        the two)."""
        if len(inputs) <= 16:
            answers = [self.one_case()(item) for item in inputs]
            scores, similarity, nearest = (np.array([answer[i] for answer in answers]) for i in range(3))
        else:
            features = self.pipeline.named_steps["features"]
            matrix = features.transform(inputs)
            scores = _two_columns(self.pipeline.named_steps["classifier"].decision_function(matrix))
            similarity, nearest = (None, None) if self.precedents is None else self.precedents.nearest(words_of(features, matrix))  # type: ignore[assignment]
        return lean(scores, self.levels, similarity, nearest, self.precedent_threshold)

    def one_case(self) -> "OneCase":
        """The serving path, built on first use (a fraction of a second; the registry builds it when
        it loads a model, so no request waits for it). Not saved: it is rebuilt from the pipeline."""
        if self.__dict__.get("_one_case") is None:
            self.__dict__["_one_case"] = OneCase(self.pipeline, self.precedents)
        return self.__dict__["_one_case"]

    def __getstate__(self) -> dict:
        return {key: value for key, value in self.__dict__.items() if key != "_one_case"}

    def probabilities(self, inputs: list[dict]) -> np.ndarray:
        return _softmax(self.margins(inputs) / self.temperature)

    def predict(self, inputs: list[dict]) -> np.ndarray:
        return np.array(self.levels)[self.margins(inputs).argmax(axis=1)]


def _two_columns(scores: np.ndarray) -> np.ndarray:
    """A two-level classifier's margins (one per case, for the second level) as margins for both."""
    return scores if scores.ndim == 2 else np.column_stack([-scores, scores])


def words_of(features: FeatureUnion, matrix):
    """The word block's columns (the first block, see build_features) of a feature matrix: what
    precedents compare."""
    return matrix[:, : len(features.transformer_list[0][1].named_steps["tfidf"].vocabulary_)]


class OneCase:
    """One case's margins from the fitted pipeline's public attributes: each block's columns (text
    n-grams via app.ngrams, or one-hot fields), their TF-IDF values, and the linear classifier's
    weights, held per feature so that one case reads one row per column it hits; and its nearest
    precedent (similarity and level), if the model keeps them, for SeverityModel.margins to lean to."""

    def __init__(self, pipeline: Pipeline, precedents: Precedents | None = None):
        linear, self.blocks, offset = pipeline.named_steps["classifier"], [], 0
        for name, steps in pipeline.named_steps["features"].transformer_list:
            pick, vectorizer = steps.steps[0][1].func, steps.steps[1][1]
            finder = None if isinstance(vectorizer, DictVectorizer) else columns_finder(vectorizer)
            self.blocks.append((name, pick, vectorizer, finder, offset))
            offset += len(vectorizer.vocabulary_)
        self.weights = np.ascontiguousarray(linear.coef_.T, dtype=np.float32)  # half the memory to read
        self.intercept = linear.intercept_
        self.precedents = precedents
        self.vocabulary_size, self.scratch = offset, threading.local()
        self({"text": "warm up", "features": {}})  # compiles the numba kernels (or loads them from cache) now

    def __call__(self, item: dict) -> tuple[np.ndarray, float, int]:
        scores = self.intercept.astype(np.float64)
        for name, pick, vectorizer, finder, offset in self.blocks:
            value = pick([item])[0]
            if finder is None:  # one-hot fields: a 1 in each known column
                for column in (vectorizer.vocabulary_.get(f"{n}{vectorizer.separator}{v}") for n, v in value.items()):
                    if column is not None:
                        scores += self.weights[offset + column]
            else:
                hits = finder(value)
                block_scores, shares = _text_block(
                    hits, vectorizer.idf_, vectorizer.sublinear_tf, self.weights, offset, self._counter()
                )
                scores += block_scores
                if name == "words":
                    word_hits = hits, shares
        scores = scores if len(scores) > 1 else np.concatenate([-scores, scores])  # two levels: one margin
        if self.precedents is None:
            return scores, 0.0, 0
        return scores, *self.precedents.nearest_one(*word_hits)

    def _counter(self) -> np.ndarray:
        """A zeroed array as long as the vocabulary for _text_block to count hits in, kept per thread
        (allocating one per call costs more than the counting)."""
        counter = getattr(self.scratch, "counter", None)
        if counter is None:
            counter = self.scratch.counter = np.zeros(self.vocabulary_size, dtype=np.int64)
        return counter


@numba.njit(cache=True)
def _text_block(hits, idf, sublinear, weights, offset, counter):
    """One text block's part of the margins, and each hit's share of its column's TF-IDF value.
    The hits come with repeats (a column hit k times appears k times): its value is tf(k) * idf /
    norm, and each of its k hits carries a k-th of it, so nothing needs grouping; the norm is known
    at the end. `counter` (zeros, as long as the vocabulary) is zero again on return."""
    for column in hits:
        counter[column] += 1
    shares, total, scores = np.empty(len(hits)), 0.0, np.zeros(weights.shape[1])
    for i, column in enumerate(hits):
        k = counter[column]
        value = ((np.log(k) + 1.0) if sublinear else float(k)) * idf[column]
        shares[i] = value / k
        total += value * shares[i]  # k hits add up to value^2
        for level in range(weights.shape[1]):
            scores[level] += shares[i] * weights[offset + column, level]
    for column in hits:
        counter[column] = 0
    if total > 0:
        shares /= np.sqrt(total)
        scores /= np.sqrt(total)
    return scores, shares


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


def heldout_rows(levels: np.ndarray, holdout: float = 0.2, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The row numbers train() fits on and those it holds out (stratified by level; the same for the
    same levels, share and seed), so that other models can be measured on the same held-out rows."""
    return train_test_split(np.arange(len(levels)), test_size=holdout, random_state=seed, stratify=levels)


def train(
    inputs: list[dict],
    levels: np.ndarray,
    with_features: bool,
    progress=lambda step: None,
    holdout: float = 0.2,
    seed: int = 0,
    groups=None,
    bars=no_bars,
) -> tuple[SeverityModel, dict]:
    """Compare the candidate classifiers and keep one (see choose()), then the precedent thresholds
    (see app.precedents); fit on all but a held-out share, which gives the metrics and the
    temperature; then refit on all rows. Up to CROSS_VALIDATE_ROWS rows the comparisons use 5-fold
    cross-validation (a held-out share of a few hundred cases cannot tell candidates apart), above
    it the held-out share. `groups` (a language per row, say) adds held-out metrics per group
    (`per_language`); `bars(total, description, leave=True)` makes progress bars (tqdm)."""
    check_levels(levels)
    with watching(bars):
        return _train(inputs, levels, with_features, progress, holdout, seed, groups, bars)


def _train(inputs, levels, with_features, progress, holdout, seed, groups, bars) -> tuple[SeverityModel, dict]:
    train_rows, test_rows = heldout_rows(levels, holdout, seed)
    train_x, test_x = [inputs[i] for i in train_rows], [inputs[i] for i in test_rows]
    train_y, test_y = levels[train_rows], levels[test_rows]
    levels_known = tuple(sorted(set(levels.tolist())))
    classes = np.array(levels_known)
    progress("reading the training share's text")
    features = build_features(with_features)
    train_m, test_m = features.fit_transform(train_x), features.transform(test_x)
    share_precedents = Precedents.of(words_of(features, train_m), train_y)
    fitted, cross_validate = {}, len(inputs) <= CROSS_VALIDATE_ROWS
    if cross_validate:
        truth, margins, nearest = levels, *_cross_validated(inputs, levels, with_features, seed, progress, bars)
    else:
        truth, margins = test_y, {}
        with bars(len(CLASSIFIERS), "fitting candidates") as bar:
            for name in CLASSIFIERS:
                progress(f"fitting {name} on the training share")
                fitted[name] = new_classifier(name).fit(train_m, train_y)
                margins[name] = _two_columns(fitted[name].decision_function(test_m))
                bar.update()
        nearest = share_precedents.nearest(words_of(features, test_m))
    best, scores = choose(truth, {name: classes[m.argmax(axis=1)] for name, m in margins.items()}, seed)
    progress(f"macro-F1 {', '.join(f'{n} {s:.3f}' for n, s in scores.items())}: keeping {best}")
    thresholds = {str(t): t for t in (None, *THRESHOLDS)}  # None first: no precedents unless they clearly help
    chosen, leaning = choose(
        truth,
        {key: classes[lean(margins[best], levels_known, *nearest, t).argmax(axis=1)] for key, t in thresholds.items()},  # type: ignore[call-arg]
        seed,
    )
    threshold = thresholds[chosen]
    progress(
        f"precedents: macro-F1 by similarity threshold {', '.join(f'{t} {s:.3f}' for t, s in leaning.items())}: "
        f"keeping {threshold}"
    )
    with bars(3 if best not in fitted else 2, f"fitting {best}") as fitting:  # [the training share], vectorise all, fit all
        if best not in fitted:
            progress(f"fitting {best} on the training share")
            fitted[best] = new_classifier(best).fit(train_m, train_y)
            fitting.update()
        held = SeverityModel(
            Pipeline([("features", features), ("classifier", fitted[best])]),
            levels_known,
            precedents=None if threshold is None else replace(share_precedents, threshold=threshold),
        )
        held_margins = held.margins(test_x)
        temperature = fit_temperature(held_margins, np.searchsorted(levels_known, test_y))
        held_predicted = classes[held_margins.argmax(axis=1)]
        metrics = {
            **scores_of(held_predicted, test_y, levels_known),
            "candidates": scores,
            "precedent_thresholds": leaning,
            "compared_by": "5-fold cross-validation" if cross_validate else "the held-out share",
        }
        if groups is not None:
            metrics["per_language"] = scores_by_group(held_predicted, test_y, [groups[i] for i in test_rows])
        progress(f"fitting {best} on all rows")
        features = build_features(with_features)
        matrix = features.fit_transform(inputs)
        fitting.update()
        pipeline = Pipeline([("features", features), ("classifier", new_classifier(best).fit(matrix, levels))])
        fitting.update()
    precedents = None if threshold is None else Precedents.of(words_of(features, matrix), levels, threshold)
    return SeverityModel(pipeline, levels_known, temperature, precedents), metrics


def _cross_validated(
    inputs: list[dict], levels: np.ndarray, with_features: bool, seed: int, progress, bars=no_bars
) -> tuple[dict, tuple]:
    """Every candidate's out-of-fold margins for every row, and every row's nearest case (its
    similarity and level) among the other folds."""
    levels_known = sorted(set(levels.tolist()))
    margins = {name: np.zeros((len(levels), len(levels_known))) for name in CLASSIFIERS}
    similarity, nearest = np.zeros(len(levels)), np.zeros_like(levels)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed).split(np.zeros(len(levels)), levels)
    with bars(5 * (1 + len(CLASSIFIERS)), "cross-validation (5 folds)") as bar:  # per fold: vectorise, fit each candidate
        for number, (fit_rows, test_rows) in enumerate(folds, 1):
            progress(f"comparing {', '.join(CLASSIFIERS)}: fold {number} of 5")
            features = build_features(with_features)
            fit_m = features.fit_transform([inputs[i] for i in fit_rows])
            test_m = features.transform([inputs[i] for i in test_rows])
            bar.update()
            for name in CLASSIFIERS:
                fitted = new_classifier(name).fit(fit_m, levels[fit_rows])
                margins[name][test_rows] = _two_columns(fitted.decision_function(test_m))
                bar.update()
            similarity[test_rows], nearest[test_rows] = Precedents.of(words_of(features, fit_m), levels[fit_rows]).nearest(
                words_of(features, test_m)
            )
    return margins, (similarity, nearest)


def choose(truth: np.ndarray, predicted: dict, seed: int = 0) -> tuple[str, dict]:
    """The candidate to keep, and every candidate's macro-F1 on the cases it was not trained on. The
    first candidate stays unless another beats it by more than one standard error of the difference,
    estimated by a paired bootstrap over those cases: with a rare level a few dozen strong, a small
    lead is as likely luck as skill."""
    labels = np.unique(np.concatenate([truth, *predicted.values()]))
    scores = {name: round(_macro_f1(truth, guess, labels), 4) for name, guess in predicted.items()}
    default, *others = predicted
    rounds = np.random.default_rng(seed).integers(0, len(truth), size=(BOOTSTRAP_ROUNDS, len(truth)))
    best, lead = default, 0.0
    for name in others:
        differences = [
            _macro_f1(truth[r], predicted[name][r], labels) - _macro_f1(truth[r], predicted[default][r], labels) for r in rounds
        ]
        margin = scores[name] - scores[default]
        if margin > np.std(differences) and margin > lead:
            best, lead = name, margin
    return best, scores


def _macro_f1(truth: np.ndarray, guess: np.ndarray, labels: np.ndarray) -> float:
    """Macro-F1 over the given labels (scikit-learn's f1_score, without its validation: the bootstrap
    calls this hundreds of times)."""
    k = len(labels)
    matrix = np.bincount(np.searchsorted(labels, truth) * k + np.searchsorted(labels, guess), minlength=k * k).reshape(k, k)
    hits = np.diag(matrix)
    denominator = matrix.sum(axis=0) + matrix.sum(axis=1)
    return float(np.mean(np.divide(2 * hits, denominator, out=np.zeros(k), where=denominator > 0)))


def evaluate(model: SeverityModel, inputs: list[dict], levels: np.ndarray) -> dict:
    """Accuracy, macro-F1, per-level precision/recall/F1/support and the confusion matrix."""
    return scores_of(model.predict(inputs), levels, model.levels)


def scores_by_group(predicted: np.ndarray, levels: np.ndarray, groups) -> dict:
    """Rows, accuracy, macro-F1 and per-level scores of each group's rows (a language, say; an empty
    value is "unknown"), largest group first. A group's macro-F1 is over the levels its rows have or
    were given, so a language without severity-1 cases is not marked down for them."""
    names = np.array([str(g) if g not in (None, "") else "unknown" for g in groups])
    out = {}
    for name, _ in Counter(names.tolist()).most_common():
        mask = names == name
        scores = scores_of(predicted[mask], levels[mask], tuple(set(predicted[mask].tolist())))
        out[name] = {key: scores[key] for key in ("rows", "accuracy", "macro_f1", "per_level")}
    return out


def scores_of(predicted: np.ndarray, levels: np.ndarray, model_levels: tuple) -> dict:
    """evaluate() for predictions already made."""
    labels = sorted(set(model_levels) | set(levels.tolist()))
    precision, recall, f1, support = precision_recall_fscore_support(levels, predicted, labels=labels, zero_division=0)
    return {
        "rows": int(len(levels)),
        "accuracy": round(float(accuracy_score(levels, predicted)), 4),
        "macro_f1": round(float(f1_score(levels, predicted, labels=labels, average="macro", zero_division=0)), 4),
        "per_level": {
            str(level): {
                "precision": round(float(p), 4),
                "recall": round(float(r), 4),
                "f1": round(float(f), 4),
                "support": int(s),
            }
            for level, p, r, f, s in zip(labels, precision, recall, f1, support)
        },
        "levels": labels,
        "confusion_matrix": confusion_matrix(levels, predicted, labels=labels).tolist(),
    }
