"""Which columns of a fitted scikit-learn text vectorizer one text hits, fast enough to serve.

scikit-learn's analyzers build every n-gram as a Python string: for a 4,000-character case the
character analyzer alone makes some 16,000 of them and takes milliseconds. Here loops compiled by
numba hash the text's code points instead (per window for `CharNgrams`, per word for `WordNgrams`)
and look the hashes up in tables of the vocabulary's hashes; word pairs are looked up by the two
words' numbers. The answers equal scikit-learn's (the tests compare them); a 64-bit hash could in
principle make an unseen n-gram or word look like a known one, with odds of about one in 10^13 each.
"""

import re

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


@numba.njit(cache=True)
def _mix(keys):
    """Fibonacci hashing: one multiplication by a large odd constant carries every bit of a key into
    the high bits the table's slots are taken from (a short n-gram's polynomial hash, or a word
    pair's number, has none there). A bijection, so it adds no collisions; the lowest bit is then
    set, to keep 0 for the empty slot (two keys whose products differ only there, which takes a
    difference of one particular 64-bit number, would be taken for one another). For one key
    (in the compiled loops) or an array of them (building a table)."""
    return (keys * _SPREAD) | np.uint64(1)


def _hashes(terms: list[str]) -> np.ndarray:
    """Each term's polynomial hash over its code points (as the compiled loops hash a text's)."""
    hashes = np.zeros(len(terms), dtype=np.uint64)
    lengths = np.fromiter(map(len, terms), dtype=np.int64, count=len(terms))
    for n in np.unique(lengths):
        rows = np.flatnonzero(lengths == n)
        points = _code_points("".join(terms[i] for i in rows)).reshape(len(rows), n)
        grouped = np.ones(len(rows), dtype=np.uint64)
        for i in range(n):
            grouped = _polynomial(grouped, points[:, i])
        hashes[rows] = grouped
    return hashes


class _Table:
    """An open-addressing hash table (linear probing) from 64-bit keys to columns (or word numbers),
    in two arrays that the compiled loops read with _find: one random read per key, where a sorted
    array's binary search takes a chain of dependent ones."""

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


@numba.njit(cache=True)
def _find(key, keys, values, shift, mask):
    """The value stored under a key (mixed by _mix), or -1."""
    slot = np.int64(key >> shift)
    while keys[slot] != key:
        if keys[slot] == 0:
            return -1
        slot = (slot + 1) & mask
    return values[slot]


@numba.njit(cache=True)
def _char_ngrams(points, smallest, largest, keys, values, shift, mask):
    """The columns of the windows of `points` (" w1 w2 ... ") that are n-grams of one word
    (smallest <= n <= largest): no space strictly inside. A window's hash extends the previous
    one's by one code point (see _polynomial)."""
    found = np.empty(len(points) * (largest - smallest + 1), dtype=np.int64)
    count = 0
    for start in range(len(points)):
        hashed = np.uint64(1)
        for n in range(1, min(largest, len(points) - start) + 1):
            if n >= 3 and points[start + n - 2] == 32:  # a space inside: this and longer windows span two words
                break
            hashed = hashed * _BASE + np.uint64(points[start + n - 1])
            if n >= smallest:
                column = _find(_mix(hashed), keys, values, shift, mask)
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
        return (
            getattr(vectorizer, "analyzer", None) == "char_wb"
            and vectorizer.ngram_range[0] >= 2
            and vectorizer.lowercase
            and vectorizer.preprocessor is None
            and vectorizer.strip_accents is None
        )

    def __init__(self, vectorizer):
        self.sizes = range(vectorizer.ngram_range[0], vectorizer.ngram_range[1] + 1)
        terms = list(vectorizer.vocabulary_)
        self.table = _Table(_hashes(terms), np.fromiter(vectorizer.vocabulary_.values(), dtype=np.int64, count=len(terms)))

    def __call__(self, text: str) -> np.ndarray:
        words = text.lower().split()
        if not words:
            return np.zeros(0, dtype=np.int64)
        table = self.table
        return _char_ngrams(
            _code_points(" " + " ".join(words) + " "),
            self.sizes.start,
            self.sizes.stop - 1,
            table.keys,
            table.values,
            table.shift,
            table.mask,
        )


class WordNgrams:
    r"""The columns of a fitted word vectorizer (words and word pairs) that one text hits.

    scikit-learn's default token pattern, r"(?u)\b\w\w+\b", takes every run of two or more word
    characters. Here a compiled loop finds those runs in the text's code points (which code points
    are word characters, `_word_characters`, is asked of Python's own `re` once), hashes each run and
    looks its number up; a pair is looked up by its two numbers instead of as a joined string. A word
    the vocabulary does not know cannot be part of a pair it knows, so such pairs are skipped.
    """

    @staticmethod
    def handles(vectorizer) -> bool:
        return (
            getattr(vectorizer, "analyzer", None) == "word"
            and vectorizer.ngram_range in ((1, 1), (1, 2))
            and vectorizer.lowercase
            and vectorizer.preprocessor is None
            and vectorizer.tokenizer is None
            and vectorizer.strip_accents is None
            and vectorizer.stop_words is None
            and vectorizer.token_pattern == TfidfVectorizer().token_pattern
        )

    def __init__(self, vectorizer):
        numbers: dict[str, int] = {}
        for term in vectorizer.vocabulary_:
            for word in term.split(" "):
                numbers.setdefault(word, len(numbers))
        self.words = _Table(_hashes(list(numbers)), np.arange(len(numbers)))
        self.single = np.full(len(numbers), -1, dtype=np.int64)
        pairs, pair_columns = [], []
        for term, column in vectorizer.vocabulary_.items():
            first, _, second = term.partition(" ")
            if second:
                pairs.append(numbers[first] * len(numbers) + numbers[second])
                pair_columns.append(column)
            else:
                self.single[numbers[first]] = column
        self.pairs = _Table(np.array(pairs, dtype=np.uint64), np.array(pair_columns, dtype=np.int64))
        self.word_characters = _word_characters()

    def __call__(self, text: str) -> np.ndarray:
        words, pairs = self.words, self.pairs
        return _word_ngrams(
            _code_points(text.lower()),
            self.word_characters,
            words.keys,
            words.values,
            words.shift,
            words.mask,
            self.single,
            pairs.keys,
            pairs.values,
            pairs.shift,
            pairs.mask,
        )


_WORD_CHARACTERS: list = []


def _word_characters() -> np.ndarray:
    """For every code point, whether `re` takes it for a word character (\\w); built once (~0.2 s)."""
    if not _WORD_CHARACTERS:
        every = "".join(map(chr, range(0x110000)))
        table = np.zeros(0x110000, dtype=np.bool_)
        table[[match.start() for match in re.finditer(r"\w", every)]] = True
        _WORD_CHARACTERS.append(table)
    return _WORD_CHARACTERS[0]


@numba.njit(cache=True)
def _word_ngrams(
    points,
    word_characters,
    word_keys,
    word_numbers,
    word_shift,
    word_mask,
    single,
    pair_keys,
    pair_columns,
    pair_shift,
    pair_mask,
):
    """The columns of the words (runs of two or more word characters) and word pairs of a text."""
    numbers = np.empty(len(points) // 2 + 1, dtype=np.int64)  # each word's number, -1 if unknown
    count, start = 0, 0
    while start < len(points):
        if not word_characters[points[start]]:
            start += 1
            continue
        end, hashed = start, np.uint64(1)
        while end < len(points) and word_characters[points[end]]:
            hashed = hashed * _BASE + points[end]
            end += 1
        if end - start >= 2:
            numbers[count] = _find(_mix(hashed), word_keys, word_numbers, word_shift, word_mask)
            count += 1
        start = end
    found = np.empty(2 * count, dtype=np.int64)
    hits = 0
    for i in range(count):
        if numbers[i] >= 0 and single[numbers[i]] >= 0:
            found[hits] = single[numbers[i]]
            hits += 1
        if i > 0 and numbers[i - 1] >= 0 and numbers[i] >= 0:
            pair = np.uint64(numbers[i - 1] * len(single) + numbers[i])
            column = _find(_mix(pair), pair_keys, pair_columns, pair_shift, pair_mask)
            if column >= 0:
                found[hits] = column
                hits += 1
    return found[:hits]
