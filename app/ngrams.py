"""Which columns of a fitted scikit-learn text vectorizer one text hits, fast enough to serve.

scikit-learn's analyzers build every n-gram as a Python string: for a 4,000-character case the
character analyzer alone makes some 16,000 of them and takes milliseconds. `CharNgrams` finds the
same n-grams in a compiled loop (numba) instead: the text's code points are hashed per window, and
the windows are looked up among the hashes of the vectorizer's vocabulary; `WordNgrams` numbers the
vocabulary's words once and looks word pairs up by their numbers. The answers equal scikit-learn's (the tests
compare them); a 64-bit hash could in principle make an unseen n-gram look like a known one, with
odds of about one in 10^13 per n-gram.
"""
import re
from itertools import repeat

import numba
import numpy as np
from sklearn.feature_extraction.text import TfidfVectorizer

# The multiplier of the polynomial hash over code points: odd (so multiplying loses no bits) and
# large (so every code point reaches the high bits; with a base below 0x10FFFF, two n-grams with
# code points above the base could hash alike exactly).
_BASE = np.uint64(0x9E3779B97F4A7C15)
_SPREAD = np.uint64(0xD6E8FEB86659FD93)  # the multiplier of _mix, another large odd number


def columns_finder(vectorizer):
    """A function text -> the vocabulary columns its terms hit (repeated as often as the term occurs)."""
    for kind in (CharNgrams, WordNgrams):
        if kind.handles(vectorizer):
            return kind(vectorizer)
    analyzer, vocabulary = vectorizer.build_analyzer(), vectorizer.vocabulary_

    def find(text: str) -> np.ndarray:
        found = [column for column in map(vocabulary.get, analyzer(text)) if column is not None]
        return np.array(found, dtype=np.int64)

    return find


def _code_points(text: str) -> np.ndarray:
    return np.frombuffer(text.encode("utf-32-le", "surrogatepass"), dtype=np.uint32).astype(np.uint64)


def _polynomial(hashes: np.ndarray, points: np.ndarray) -> np.ndarray:
    """One more code point into each hash: the hash of n points is 1*B^n + p1*B^(n-1) + ... + pn,
    modulo 2^64, so its leading 1 keeps n-grams of different lengths apart."""
    return hashes * _BASE + points  # numpy wraps integer arrays silently: modulo 2^64, as intended


def _mix(keys: np.ndarray) -> np.ndarray:
    """Fibonacci hashing: one multiplication by a large odd constant carries every bit of a key into
    the high bits the table's slots are taken from (a short n-gram's polynomial hash, or a word
    pair's number, has none there). A bijection, so it adds no collisions; the lowest bit is then
    set, to keep 0 for the empty slot (two keys whose products differ only there, which takes a
    difference of one particular 64-bit number, would be taken for one another)."""
    return (keys * _SPREAD) | np.uint64(1)


class _Table:
    """An open-addressing hash table (linear probing) from 64-bit keys to columns, in two arrays:
    one random read per key, where a sorted array's binary search takes a chain of dependent ones."""

    def __init__(self, keys: np.ndarray, values: np.ndarray):
        keys = _mix(keys)
        bits = max(4, int(4 * len(keys) - 1).bit_length())  # at most a quarter full: most keys settle at the first slot
        self.shift, self.mask = np.uint64(64 - bits), (1 << bits) - 1
        self.keys, self.values = np.zeros(1 << bits, dtype=np.uint64), np.zeros(1 << bits, dtype=np.int32)
        slots = (keys >> self.shift).astype(np.int64)
        while len(keys):  # place what lands in an empty slot (one key per slot per round), move the rest on
            free = self.keys[slots] == 0
            _, first = np.unique(np.where(free, slots, -1), return_index=True)
            placed = np.zeros(len(keys), dtype=bool)
            placed[first] = free[first]
            self.keys[slots[placed]], self.values[slots[placed]] = keys[placed], values[placed]
            keys, values, slots = keys[~placed], values[~placed], slots[~placed]
            slots = np.where(self.keys[slots] != 0, (slots + 1) & self.mask, slots)

    def get(self, keys: np.ndarray) -> np.ndarray:
        """The columns of the keys that are in the table (unknown keys are left out)."""
        return _probe(_mix(keys), self.keys, self.values, self.shift, self.mask)


@numba.njit(cache=True)
def _find(key, keys, values, shift, mask):
    """The column stored under a mixed key, or -1."""
    slot = np.int64(key >> shift)
    while keys[slot] != key:
        if keys[slot] == 0:
            return -1
        slot = (slot + 1) & mask
    return values[slot]


@numba.njit(cache=True)
def _probe(mixed, keys, values, shift, mask):
    found = np.empty(len(mixed), dtype=np.int64)
    count = 0
    for key in mixed:
        column = _find(key, keys, values, shift, mask)
        if column >= 0:
            found[count] = column
            count += 1
    return found[:count]


@numba.njit(cache=True)
def _char_ngrams(points, smallest, largest, keys, values, shift, mask):
    """The columns of the windows of `points` (" w1 w2 ... ") that are n-grams of one word
    (smallest <= n <= largest): no space strictly inside. A window's hash extends the previous
    one's by one code point (see _polynomial), mixed as _mix does."""
    found = np.empty(len(points) * (largest - smallest + 1), dtype=np.int64)
    count = 0
    for start in range(len(points)):
        hashed = np.uint64(1)
        for n in range(1, min(largest, len(points) - start) + 1):
            if n >= 3 and points[start + n - 2] == 32:  # a space inside: this and longer windows span two words
                break
            hashed = hashed * _BASE + np.uint64(points[start + n - 1])
            if n >= smallest:
                column = _find((hashed * _SPREAD) | np.uint64(1), keys, values, shift, mask)
                if column >= 0:
                    found[count] = column
                    count += 1
    return found[:count]


class CharNgrams:
    """The columns of a fitted `analyzer="char_wb"` vectorizer that one text hits.

    scikit-learn pads each whitespace-separated word with one space and takes its n-grams; here the
    words are joined with single spaces (" w1 w2 w3 "), and a window is one of a word's n-grams
    exactly when no space lies strictly inside it. That holds for n-grams of two characters or more,
    which is why a vectorizer whose n-grams start at one character is left to scikit-learn.
    """

    @staticmethod
    def handles(vectorizer) -> bool:
        return (getattr(vectorizer, "analyzer", None) == "char_wb" and vectorizer.ngram_range[0] >= 2
                and vectorizer.lowercase and vectorizer.preprocessor is None and vectorizer.strip_accents is None)

    def __init__(self, vectorizer):
        self.sizes = range(vectorizer.ngram_range[0], vectorizer.ngram_range[1] + 1)
        keys, columns = [], []
        for n in self.sizes:
            terms = [term for term in vectorizer.vocabulary_ if len(term) == n]
            if terms:
                points = _code_points("".join(terms)).reshape(len(terms), n)
                hashes = np.ones(len(terms), dtype=np.uint64)
                for i in range(n):
                    hashes = _polynomial(hashes, points[:, i])
                keys.append(hashes)
                columns.append(np.fromiter((vectorizer.vocabulary_[t] for t in terms), dtype=np.int64, count=len(terms)))
        self.table = _Table(np.concatenate(keys), np.concatenate(columns))

    def __call__(self, text: str) -> np.ndarray:
        words = text.lower().split()
        if not words:
            return np.zeros(0, dtype=np.int64)
        table = self.table
        return _char_ngrams(_code_points(" " + " ".join(words) + " "), self.sizes.start, self.sizes.stop - 1,
                            table.keys, table.values, table.shift, table.mask)


class WordNgrams:
    """The columns of a fitted word vectorizer (words and word pairs) that one text hits.

    Every word of the vocabulary gets a number; a text's words are looked up once, and a pair is
    looked up by its two numbers instead of as a joined string. A word the vocabulary does not know
    cannot be part of a pair it knows, so such pairs are skipped.
    """

    @staticmethod
    def handles(vectorizer) -> bool:
        return (getattr(vectorizer, "analyzer", None) == "word" and vectorizer.ngram_range in ((1, 1), (1, 2))
                and vectorizer.lowercase and vectorizer.preprocessor is None and vectorizer.tokenizer is None
                and vectorizer.strip_accents is None and vectorizer.stop_words is None)

    def __init__(self, vectorizer):
        # scikit-learn's default, r"(?u)\b\w\w+\b", finds the runs of two or more word characters,
        # as r"\w\w+" does a third faster (the tests compare the two on any text)
        default = vectorizer.token_pattern == TfidfVectorizer().token_pattern
        self.pattern = re.compile(r"\w\w+" if default else vectorizer.token_pattern)
        self.numbers: dict[str, int] = {}
        for term in vectorizer.vocabulary_:
            for word in term.split(" "):
                self.numbers.setdefault(word, len(self.numbers))
        self.single = np.full(len(self.numbers) + 1, -1, dtype=np.int64)  # the last entry: unknown words
        pairs, pair_columns = [], []
        for term, column in vectorizer.vocabulary_.items():
            first, _, second = term.partition(" ")
            if second:
                pairs.append(self._pair(self.numbers[first], self.numbers[second]))
                pair_columns.append(column)
            else:
                self.single[self.numbers[first]] = column
        self.pairs = _Table(np.array(pairs, dtype=np.uint64), np.array(pair_columns)) if pairs else None

    def _pair(self, first, second):
        return first * (len(self.numbers) + 1) + second

    def __call__(self, text: str) -> np.ndarray:
        words = self.pattern.findall(text.lower())
        unknown = len(self.numbers)
        numbers = np.fromiter(map(self.numbers.get, words, repeat(unknown)), dtype=np.int64, count=len(words))
        single = self.single[numbers]
        found = [single[single >= 0]]
        if self.pairs is not None and len(numbers) > 1:
            known = (numbers[:-1] != unknown) & (numbers[1:] != unknown)
            found.append(self.pairs.get(self._pair(numbers[:-1][known], numbers[1:][known]).astype(np.uint64)))
        return np.concatenate(found)
