import pytest

from app.rulelang.documents import RulesInvalid
from app.severity.text import normalise, words
from app.severity.vocabulary import compile_vocabulary, term_regex


def vocab(terms, exclude=None, patterns=None, languages=("en", "ru", "pl", "cs")):
    return compile_vocabulary(
        "signals.yaml",
        {
            "languages": list(languages),
            "signals": {"outage": {"description": "d", "terms": terms, "patterns": patterns or {}, "exclude": exclude or {}}},
        },
    )


def test_normalise_folds_case_diacritics_and_letters_without_decomposition():
    assert normalise("Výpadek SERVERU") == "vypadek serveru"
    assert normalise("Serwer nie działa") == "serwer nie dziala"
    assert normalise("Straße  ist\tweg") == "strasse ist weg"
    assert words("Сервер НЕ работает!!! (с утра)") == "сервер не работает с утра"


def test_stems_match_inflected_forms():
    v = vocab({"cs": ["nedostupn*"], "ru": ["недоступ*"]})
    for text in ["Systém je nedostupný", "aplikace nedostupná", "сервис недоступен", "СЕРВЕР НЕДОСТУПНЫЙ"]:
        assert [h.signal for h in v.find(words(text))] == ["outage"], text


def test_whole_words_only():
    v = vocab({"en": ["down"]})
    assert v.find(words("please download the file")) == []
    assert v.find(words("slowdown")) == []
    assert v.find(words("server is DOWN.")) != []


def test_gap_allows_up_to_three_words_between():
    v = vocab({"pl": ["nikt .. nie moze*"]})
    assert v.find(words("Nikt w naszej firmie nie może się zalogować"))[0].matched == "nikt w naszej firmie nie moze"
    assert v.find(words("nikt a b c d nie moze")) == []


def test_exclusion_blanks_negated_phrases():
    v = vocab({"en": ["data loss"]}, exclude={"en": ["no data loss"]})
    assert v.find(words("Restarted, no data loss.")) == []
    assert v.find(words("We have data loss in prod")) != []


def test_hit_names_the_language_and_words():
    v = vocab({"en": ["down"], "ru": ["не работа*"]})
    hit = v.find(words("Сервер не работает"))[0]
    assert (hit.signal, hit.source, hit.matched) == ("outage", "ru", "не работает")


def test_patterns_are_re2_over_words():
    v = vocab({}, patterns={"en": ["error [0-9]{3}"]})
    assert v.find(words("We get Error 503!"))[0].matched == "error 503"


@pytest.mark.parametrize("term", ["x*y", "..", ".. down", "down ..", "!!!"])
def test_bad_terms_are_refused_with_the_place_named(term):
    with pytest.raises(RulesInvalid) as exc:
        vocab({"en": ["ok", term]})
    problem = exc.value.problems[0]
    assert (problem.file, problem.item, problem.field) == ("signals.yaml", "signals.outage", "terms.en[1]")


def test_bad_pattern_and_unknown_language_are_refused():
    with pytest.raises(RulesInvalid) as exc:
        vocab({"xx": ["down"]}, patterns={"en": ["(unclosed"]})
    fields = {p.field for p in exc.value.problems}
    assert fields == {"terms.xx", "patterns.en[0]"}


def test_term_regex_escapes_regex_characters():
    assert term_regex("c++ crash") == r"c crash"  # punctuation is not part of words
    assert term_regex("node.js") == r"node\ js"
