"""classify_case: from a filed case to an explained severity decision. No Flask, no clock."""

import os
import uuid
from dataclasses import dataclass
from datetime import datetime

from app.decide.cases import Case
from app.routing.regions import Placement
from app.routing.routes import CaseFacts, Routing, route_case
from app.routing.sla import Entitlement, Sla
from app.rulebook.book import Rulebook
from app.severity.language import LanguageDetector, LanguageGuess
from app.severity.mail import signals as mail_signals
from app.severity.mail import split
from app.severity.policy import Prediction, Severity, combine
from app.severity.vocabulary import Hit


@dataclass(frozen=True)
class Decision:
    decision_id: str
    case: Case
    decided_at: datetime
    language: LanguageGuess
    evidence: tuple[Hit, ...]
    severity: Severity
    placement: Placement
    sla: Sla
    routing: Routing
    entitlement: Entitlement
    versions: dict

    @property
    def signals(self) -> list[str]:
        return [hit.signal for hit in self.evidence]


def classify_case(
    case: Case, rules: Rulebook, detector: LanguageDetector, now: datetime, model=None, count_cases=None
) -> Decision:
    """Severity (language, signals, the classifier, severity rules, declared level), then the
    deadline, the pool and the entitlement. `model` is the served (SeverityModel, metadata), or None;
    `count_cases(start, end)` counts the customer's earlier cases for the plan's quota (None: not checked).

    `now` is the instant of the decision: which pools are open is judged at `now`, and the
    deadline runs from the case's `reported_at`."""
    mail = split(case.subject, case.description)  # quoted history and signatures do not decide
    language = detector.identify(mail.text, case.language, rules.vocabulary.covered)
    evidence = with_environment(mail_signals(mail, rules.vocabulary, language.supported), case.environment)
    prediction = predict(model[0], model[1], case, language.code) if model else None
    fact = facts(case, language, evidence, prediction)
    fired = rules.severity_rules.evaluate(fact)
    matched = [rules.severity.rule(rule_id) for rule_id in fired]
    severity = combine(
        rules.severity,
        matched,
        case.declared_severity,
        prediction,
        None if language.supported else language.code,
        mail.note,
    )
    versions = {
        "rules": rules.version,
        **({"rule_documents": rules.documents} if rules.documents else {}),
        **({"model": prediction.model_version} if prediction else {}),
    }
    return Decision(
        new_decision_id(now),
        case,
        now,
        language,
        evidence,
        severity,
        *assign(case, language.code, severity.level, fact["signal"], rules, now, count_cases),
        versions,
    )


def predict(model, meta: dict, case: Case, language: str) -> Prediction:
    """The classifier's level for a case, its confidence and every level's probability."""
    from app.classifier.model import as_input

    known = {
        "product_area": case.product_area,
        "channel": case.channel,
        "environment": case.environment,
        "language": language,
        "plan": case.customer.plan,
        "country": case.customer.country,
    }
    features = {name: known.get(name) or "" for name in meta["columns"]["feature_columns"]}
    probabilities = model.probabilities([as_input({"subject": case.subject, "description": case.description}, features)])[0]
    best = int(probabilities.argmax())
    return Prediction(
        meta["version"],
        int(model.levels[best]),
        round(float(probabilities[best]), 4),
        {int(level): round(float(p), 4) for level, p in zip(model.levels, probabilities)},
    )


def assign(
    case: Case,
    language: str,
    level: int,
    signals: dict,
    rules: Rulebook,
    now: datetime,
    count_cases=None,
    exclude: frozenset[str] = frozenset(),
) -> tuple[Placement, Sla, Routing, Entitlement]:
    """Region, response deadline, pool and entitlement for a case whose severity is decided (pools in
    `exclude` passed over, for a reroute)."""
    plan = case.customer.plan
    placement = rules.regions.of(case.customer.country)
    sla = rules.terms.deadline(plan, level, case.reported_at)
    routing_facts = CaseFacts(
        level,
        placement,
        case.customer.country,
        language,
        plan,
        case.tier,
        case.customer.id,
        case.product_area,
        case.channel,
        case.environment,
        language in rules.vocabulary.covered,
    )
    fired = rules.routing_rules.evaluate({**routing_facts.fact(), "signal": signals})
    routing = route_case(
        routing_facts, rules.routes, fired, rules.pools, sla.due_at, rules.terms.clock_of(plan).always_open, now, exclude
    )
    sla = sla.against(routing.pool.id, routing.available_at, None if routing.open_now else routing.pool.closed_reason(now))
    return placement, sla, routing, rules.terms.entitlement(plan, case.channel, case.reported_at, count_cases)


# A stated environment raises its signal and overrules what the text suggests about it.
_ENVIRONMENT_SIGNALS = {"production": "production", "non-production": "non_production"}


def with_environment(hits: list[Hit], environment: str | None) -> tuple[Hit, ...]:
    """The text's hits, with the environment field (if given) in place of the text's environment signals."""
    if environment is None:
        return tuple(hits)
    kept = [hit for hit in hits if hit.signal not in _ENVIRONMENT_SIGNALS.values()]
    return (*kept, Hit(_ENVIRONMENT_SIGNALS[environment], "environment", environment))


def facts(case: Case, language: LanguageGuess, evidence: tuple[Hit, ...], prediction: Prediction | None = None) -> dict:
    """The short facts the rule engine sees; fields the customer left out stay absent."""
    fact = {
        "model": {"level": prediction.level, "confidence": prediction.confidence} if prediction else None,
        "signal": {hit.signal: True for hit in evidence},
        "plan": case.customer.plan,
        "country": case.customer.country,
        "language": language.code,
        "language_supported": language.supported,
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
