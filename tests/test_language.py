"""Language detection over a broad set of languages, and whether the vocabularies cover the language."""

import pytest

from app.severity.language import LEFT_OUT, LanguageDetector, every_language
from app.severity.policy import SeverityPolicy, combine

from .conftest import RULES

COVERED = frozenset({"en", "de", "ru", "cs", "id", "pl", "da", "es", "fr", "pt", "it", "nl"})


def test_all_is_every_lingua_language_but_four(detector):
    assert detector.codes == tuple(every_language()) and len(detector.codes) == 71
    assert not LEFT_OUT & set(detector.codes) and {"sv", "tr", "fi", "nb", "es", "fr", "ja"} <= set(detector.codes)


@pytest.mark.parametrize(
    "text, code, supported",
    [
        ("Caída del servidor\nEl servidor de producción está caído y nadie puede trabajar.", "es", True),
        ("Panne du serveur\nLe serveur de production est en panne depuis ce matin, personne ne peut travailler.", "fr", True),
        ("Servidor em baixo\nO servidor de produção está em baixo e ninguém consegue trabalhar.", "pt", True),
        ("Server giù\nIl server di produzione non funziona da stamattina, nessuno riesce a lavorare.", "it", True),
        ("Server plat\nDe productieserver ligt sinds vanochtend plat en niemand kan werken.", "nl", True),
        ("Servern nere\nProduktionsservern har legat nere sedan i morse och ingen kan arbeta.", "sv", False),
        ("Sunucu çöktü\nÜretim sunucusu bu sabahtan beri çalışmıyor ve kimse çalışamıyor.", "tr", False),
        ("サーバーが停止しました\n本番サーバーが今朝から停止しており、誰も作業できません。", "ja", False),
    ],
)
def test_the_real_language_is_reported(detector, text, code, supported):
    guess = detector.identify(text, covered=COVERED)
    assert (guess.code, guess.supported, guess.source) == (code, supported, "detected")
    assert detector.identify(text).supported  # without `covered`, nothing is said to be missing


def test_a_given_language_is_marked_by_coverage(detector):
    assert detector.identify("anything", "sv", COVERED).supported is False
    assert detector.identify("anything", "es", COVERED).supported is True


def test_two_words_are_too_few_for_a_language_without_vocabulary(detector):
    # lingua alone takes this for Azerbaijani; so short a text keeps the likeliest covered language
    assert detector._detector.compute_language_confidence_values("Login problem")[0].language.iso_code_639_1.name == "AZ"
    guess = detector.identify("Login problem", covered=COVERED)
    assert guess.code in COVERED and guess.supported


def test_a_restricted_detector_still_works():
    small = LanguageDetector(["en", "de"], "en")
    assert small.codes == ("en", "de") and small.identify("Der Server ist ausgefallen.").code == "de"
    with pytest.raises(ValueError, match="not known to lingua"):
        LanguageDetector(["en", "xx"], "en")


def test_the_note_says_when_the_language_has_no_vocabulary():
    policy = SeverityPolicy({1: "a", 2: "b", 3: "c", 4: "d"}, 3, ())
    default = combine(policy, [], None, unread="sv")
    assert default.source == "default" and default.level == 3
    assert "Swedish (sv)" in default.note and "no vocabulary" in default.note and "until a person reads" in default.note
    declared = combine(policy, [], 2, unread="tr")
    assert declared.source == "declared" and declared.level == 2 and "Turkish (tr)" in declared.note
    assert "no vocabulary" not in combine(policy, [], None).note


def test_coverage_is_the_languages_with_words(tmp_path):
    from app.rulebook import book as rulebook

    book = rulebook.build(rulebook.read_sources(RULES))
    assert book.vocabulary.covered == COVERED
    sources = rulebook.read_sources(RULES)
    sources["signals"] = sources["signals"].replace(
        "languages: [en, de, ru, cs, id, pl, da,", "languages: [sv, en, de, ru, cs, id, pl, da,"
    )
    assert rulebook.build(sources).vocabulary.covered == COVERED  # listed, but no words: not covered
