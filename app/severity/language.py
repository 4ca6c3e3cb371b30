"""Language of a case: the customer's word if given, else lingua over a broad set of languages.

The detector reports the language the text is really in, not the nearest one we have words for:
whether the vocabularies cover it is the caller's question (`identify(..., covered=...)` marks the
guess `supported`). `all` (the default setting) is every language lingua knows but four:
Latin and Esperanto (nobody files a support case in them, and they attract short English texts),
Malay (lingua takes Indonesian cases for Malay; written Malay is close enough to Indonesian that a
Malay text is detected, and read, as Indonesian) and Nynorsk (it takes Danish for Nynorsk;
Norwegian is detected as Bokmål).
"""

from collections.abc import Collection
from dataclasses import dataclass

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder

ALL = "all"
LEFT_OUT = frozenset({"la", "eo", "ms", "nn"})


@dataclass(frozen=True)
class LanguageGuess:
    code: str
    confidence: float
    source: str  # given | detected | default
    supported: bool = True  # the vocabularies have words in this language


def every_language() -> list[str]:
    """The ISO 639-1 codes `all` stands for."""
    return sorted(code for code in (lang.iso_code_639_1.name.lower() for lang in Language.all()) if code not in LEFT_OUT)


class LanguageDetector:
    # lingua's low-accuracy mode needs no more than the opening of a text (the caller passes a mail's
    # newest text, quotes and signatures set aside): on the quality sets 200 characters tell the same
    # languages as 1,000, at about two thirds of the time (its cost grows with the text)
    SAMPLE_CHARS = 200
    # a language with a vocabulary wins over a more likely one without, unless that one is at least
    # this many times as likely (short texts spread their likelihood over related languages)
    COVERED_MARGIN = 2.0
    # one or two words are too few to tell languages apart ("Login problem" comes out Azerbaijani):
    # below this many words the most likely language with a vocabulary is taken
    MIN_WORDS = 3

    def __init__(self, codes: list[str], default: str):
        if [c.strip().lower() for c in codes] == [ALL]:
            codes = every_language()
        unknown = [c for c in codes if not hasattr(IsoCode639_1, c.upper())]
        if unknown:
            raise ValueError(f"languages not known to lingua: {unknown}")
        self.codes = tuple(codes)
        self.default = default
        languages = [Language.from_iso_code_639_1(getattr(IsoCode639_1, c.upper())) for c in codes]
        builder = LanguageDetectorBuilder.from_languages(*languages) if len(languages) > 1 else None
        if builder is None:
            raise ValueError("configure at least two languages to detect between")
        self._detector = builder.with_low_accuracy_mode().with_preloaded_language_models().build()

    def identify(self, text: str, given: str | None = None, covered: Collection[str] | None = None) -> LanguageGuess:
        """The given language wins; otherwise the most likely language, or the default. With `covered`
        (the languages that have a vocabulary) the guess says whether it is one of them, and a covered
        language is taken instead of a more likely uncovered one when that is less than COVERED_MARGIN
        times as likely, or when the text has fewer than MIN_WORDS words."""

        def guess(code: str, confidence: float, source: str) -> LanguageGuess:
            return LanguageGuess(code, confidence, source, covered is None or code in covered)

        if given:
            return guess(given, 1.0, "given")
        values = self._detector.compute_language_confidence_values(text[: self.SAMPLE_CHARS])
        if not values or values[0].value <= 0:
            return guess(self.default, 0.0, "default")
        best = values[0]
        if covered is not None and _code(best.language) not in covered and len(text.split()) < self.MIN_WORDS:
            best = next((v for v in values if _code(v.language) in covered and v.value > 0), best)
        if covered is not None and _code(best.language) not in covered:
            for value in values[1:]:
                if value.value * self.COVERED_MARGIN <= best.value:
                    break
                if _code(value.language) in covered:
                    best = value
                    break
        return guess(_code(best.language), round(best.value, 3), "detected")


def _code(language: Language) -> str:
    return language.iso_code_639_1.name.lower()
