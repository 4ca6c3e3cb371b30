"""The serving path's n-gram finders find exactly the columns scikit-learn's analyzers find."""

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.feature_extraction.text import TfidfVectorizer

from app.classifier import samples
from app.classifier.ngrams import CharNgrams, WordNgrams, columns_finder

CORPUS = [f"{r['subject']}\n{r['description']}" for r in samples.generate(per_level=6, seed=5)]
VECTORIZERS = {
    "chars": TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), min_df=2, sublinear_tf=True).fit(CORPUS),
    "words": TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True).fit(CORPUS),
    "chars 3-4": TfidfVectorizer(analyzer="char_wb", ngram_range=(3, 4)).fit(CORPUS),
    "words only": TfidfVectorizer(ngram_range=(1, 1)).fit(CORPUS),
}
FINDERS = {name: columns_finder(vectorizer) for name, vectorizer in VECTORIZERS.items()}
TEXTS = CORPUS[:40] + [
    "",
    " ",
    "a",
    "ab",
    "a b",
    "de de de DE",
    "Ünïcode\u00a0nbsp\ttab\n\nx",
    "\ud800 lone",
    "  lead  trail  ",
    "Сервер не работает " * 50,
    "ΣΊΣΥΦΟΣ straße ǅ",
    "x" * 5000,
]


def columns_by_scikit_learn(vectorizer, text):
    vocabulary = vectorizer.vocabulary_
    return Counter(c for c in map(vocabulary.get, vectorizer.build_analyzer()(text)) if c is not None)


def test_the_fast_finders_are_used():
    assert isinstance(FINDERS["chars"], CharNgrams) and isinstance(FINDERS["chars 3-4"], CharNgrams)
    assert isinstance(FINDERS["words"], WordNgrams) and isinstance(FINDERS["words only"], WordNgrams)
    single = TfidfVectorizer(analyzer="char_wb", ngram_range=(1, 3)).fit(CORPUS)  # one-character n-grams: sklearn's
    assert not isinstance(columns_finder(single), CharNgrams)


@pytest.mark.parametrize("name", VECTORIZERS)
@pytest.mark.parametrize("text", TEXTS, ids=range(len(TEXTS)))
def test_same_columns_as_scikit_learn(name, text):
    assert Counter(FINDERS[name](text).tolist()) == columns_by_scikit_learn(VECTORIZERS[name], text)


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.sampled_from(
            [
                "server",
                "nicht",
                "работает",
                "down",
                " ",
                "  ",
                "\n",
                "\t",
                "é",
                "Ä",
                "x",
                "is",
                "the",
                "ab",
                "\u00a0",
                "!",
                "-",
                "1",
                "ǅ",
            ]
        ),
        max_size=40,
    ).map("".join)
)
def test_same_columns_on_any_mix(text):
    for name, vectorizer in VECTORIZERS.items():
        assert Counter(FINDERS[name](text).tolist()) == columns_by_scikit_learn(vectorizer, text), name
