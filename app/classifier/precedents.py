"""Precedents: a new case much like a labelled one the model was trained on leans to that case's level.

Helpdesks see the same case again: the same customer writing twice, one fault reported by many,
templated alerts. A linear classifier fitted on thousands of n-grams does not always give a near
copy of a training case that case's level. So a model may keep its training cases' word vectors
(the TF-IDF of words and word pairs the classifier already reads) and, when a new case's cosine
similarity to its nearest training case reaches a threshold, add PRECEDENT_WEIGHT to the margin
of that case's level. train() picks the threshold, or none, by macro-F1 on cases the model was not
trained on: on a set without repeats (the Hadoop Jira set) it stays off.

Only rarer columns take part (those in at most RARE_SHARE of the training cases, or RARE_CASES on a
small set): common words say little about which case is alike and would be most of the work of
comparing (on the multilingual ticket set, a case's words meet ~27,000 training entries, its rarer
words ~5,000).
"""

from dataclasses import dataclass

import numba
import numpy as np
import scipy.sparse as sp

RARE_SHARE = 0.05
RARE_CASES = 20
THRESHOLDS = (0.25, 0.3, 0.35, 0.4, 0.5, 0.6)  # the cosine similarities train() tries
PRECEDENT_WEIGHT = 1.0  # added to a level's margin (about two standard deviations of a linear SVM's)


@dataclass
class Precedents:
    """The training cases' rarer word columns (cases x columns, compressed by column, so one case's
    columns read only the training cases that have them), their levels, and the threshold."""

    cases: sp.csc_matrix
    levels: np.ndarray
    threshold: float | None = None  # None: compare, never lean (what train() measures with)

    @classmethod
    def of(cls, words: sp.spmatrix, levels: np.ndarray, threshold: float | None = None) -> "Precedents":
        cases = sp.csc_matrix(words, dtype=np.float32)
        rare = np.diff(cases.indptr) <= max(RARE_SHARE * cases.shape[0], RARE_CASES)
        cases = (cases @ sp.diags(rare.astype(np.float32))).tocsc()
        cases.eliminate_zeros()
        return cls(cases, np.asarray(levels), threshold)

    def nearest(self, words: sp.spmatrix) -> tuple[np.ndarray, np.ndarray]:
        """For each row of `words` (cases x the same columns): the similarity of the nearest
        training case, and its level."""
        similar = (sp.csr_matrix(words, dtype=np.float32) @ self.cases.T).tocsr()
        return similar.max(axis=1).toarray().ravel(), self.levels[np.asarray(similar.argmax(axis=1)).ravel()]

    def nearest_one(self, columns: np.ndarray, values: np.ndarray) -> tuple[float, int]:
        """The same for one case given as the columns it hits and each hit's value (a column may
        repeat: its values add up)."""
        similarity, best = _nearest(columns, values, self.cases.indptr, self.cases.indices, self.cases.data, self.cases.shape[0])
        return similarity, self.levels[best]


@numba.njit(cache=True)
def _nearest(columns, values, indptr, cases, data, count):
    """The highest dot product of one case (its hits and their values) with a training case, and
    that case's row: the training cases' entries in the case's columns, added up per case."""
    sums = np.zeros(count)
    for column, value in zip(columns, values):
        for entry in range(indptr[column], indptr[column + 1]):
            sums[cases[entry]] += data[entry] * value
    best = sums.argmax()
    return sums[best], best


def lean(
    margins: np.ndarray, levels: tuple, similarity: np.ndarray | None, nearest: np.ndarray | None, threshold: float | None
) -> np.ndarray:
    """Margins (cases x levels) with PRECEDENT_WEIGHT added to the nearest case's level where its
    similarity reaches the threshold (None: nowhere)."""
    if threshold is None:
        return margins
    assert similarity is not None  # a threshold comes with similarities
    reached = (np.asarray(similarity) >= threshold)[:, None] & (np.asarray(nearest)[:, None] == np.array(levels)[None, :])
    return margins + PRECEDENT_WEIGHT * reached
