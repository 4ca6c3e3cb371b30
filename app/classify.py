"""classify_case: from a filed case to an explained severity decision. No Flask, no clock."""
import os
import uuid
from dataclasses import dataclass
from datetime import datetime

from .cases import Case
from .language import LanguageDetector, LanguageGuess
from .rulebook import Rulebook
from .severity import Severity, combine
from .text import words
from .vocabulary import Hit


@dataclass(frozen=True)
class Decision:
    decision_id: str
    case: Case
    decided_at: datetime
    language: LanguageGuess
    evidence: tuple[Hit, ...]
    severity: Severity
    versions: dict

    @property
    def signals(self) -> list[str]:
        return [hit.signal for hit in self.evidence]


def classify_case(case: Case, rules: Rulebook, detector: LanguageDetector, now: datetime) -> Decision:
    """Detect the language, raise signals, run the severity rules and combine them with the declared level."""
    language = detector.identify(case.text, case.language)
    evidence = with_environment(rules.vocabulary.find(words(case.text)), case.environment)
    fired = rules.engine.evaluate(facts(case, language, evidence))
    severity = combine(rules.severity, [rules.severity.rule(rule_id) for rule_id in fired], case.declared_severity)
    return Decision(new_decision_id(now), case, now, language, evidence, severity, {"rules": rules.version})


# A stated environment raises its signal and overrules what the text suggests about it.
_ENVIRONMENT_SIGNALS = {"production": "production", "non-production": "non_production"}


def with_environment(hits: list[Hit], environment: str | None) -> tuple[Hit, ...]:
    """The text's hits, with the environment field (if given) in place of the text's environment signals."""
    if environment is None:
        return tuple(hits)
    kept = [hit for hit in hits if hit.signal not in _ENVIRONMENT_SIGNALS.values()]
    return (*kept, Hit(_ENVIRONMENT_SIGNALS[environment], "environment", environment))


def facts(case: Case, language: LanguageGuess, evidence: tuple[Hit, ...]) -> dict:
    """The short facts the rule engine sees; fields the customer left out stay absent."""
    fact = {
        "signal": {hit.signal: True for hit in evidence},
        "plan": case.customer.plan,
        "country": case.customer.country,
        "language": language.code,
        "environment": case.environment,
        "channel": case.channel,
        "product_area": case.product_area,
        "declared_severity": case.declared_severity,
    }
    return {key: value for key, value in fact.items() if value is not None}


def new_decision_id(now: datetime) -> str:
    """A UUIDv7: time-ordered, so stored decisions sort and paginate by creation."""
    millis = int(now.timestamp() * 1000) & ((1 << 48) - 1)
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis << 80) | (0x7 << 76) | ((rand >> 62) & 0xFFF) << 64 | (0b10 << 62) | (rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))
