"""Language of a case: the customer's word if given, else lingua restricted to the configured languages."""

from dataclasses import dataclass

from lingua import IsoCode639_1, Language, LanguageDetectorBuilder


@dataclass(frozen=True)
class LanguageGuess:
    code: str
    confidence: float
    source: str  # given | detected | default


class LanguageDetector:
    # lingua's low-accuracy mode needs no more than the opening of a long description
    SAMPLE_CHARS = 1000

    def __init__(self, codes: list[str], default: str):
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

    def identify(self, text: str, given: str | None = None) -> LanguageGuess:
        """The given language wins; otherwise the most likely configured language, or the default."""
        if given:
            return LanguageGuess(given, 1.0, "given")
        values = self._detector.compute_language_confidence_values(text[: self.SAMPLE_CHARS])
        if not values or values[0].value <= 0:
            return LanguageGuess(self.default, 0.0, "default")
        best = values[0]
        return LanguageGuess(best.language.iso_code_639_1.name.lower(), round(best.value, 3), "detected")
