"""The case and decision contract: a case as an intake form files it, and a decision as it is answered
and stored (marshmallow; no Flask)."""

import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import marshmallow as ma
import pycountry

from app.decide.cases import Case, Customer
from app.routing.pools import TIERS
from app.rulelang.domain import CHANNELS, ENVIRONMENTS, LEVELS, PLANS


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ma.ValidationError("Must not be blank.")


def _country(value: str) -> None:
    if len(value) != 2 or pycountry.countries.get(alpha_2=value.upper()) is None:
        raise ma.ValidationError(f"{value!r} is not an ISO 3166-1 alpha-2 country code.")


def _language(value: str) -> None:
    if len(value) != 2 or pycountry.languages.get(alpha_2=value.lower()) is None:
        raise ma.ValidationError(f"{value!r} is not an ISO 639-1 language code.")


_SURROGATE = re.compile("[\ud800-\udfff]")
_CONTROL = {True: re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]"), False: re.compile("[\x00-\x1f]")}


def printable(value: str, lines: bool) -> None:
    """The one check of every string a client sends: no lone surrogate (not Unicode: UTF-8, PostgreSQL and
    the JSON answer refuse it) and no control character U+0000-U+001F (PostgreSQL refuses NUL), except
    tab, newline and carriage return in free text (`lines`)."""
    found = _SURROGATE.search(value)
    if found:
        raise ma.ValidationError(
            f"Must be valid Unicode: a lone surrogate U+{ord(found.group()):04X} at position {found.start()}."
        )
    found = _CONTROL[lines].search(value)
    if found:
        allowed = " (tab, newline and carriage return are allowed)" if lines else ""
        raise ma.ValidationError(
            f"Must not contain control characters{allowed}: U+{ord(found.group()):04X} at position {found.start()}."
        )


class Text(ma.fields.String):
    """Free text (a subject, a description, a comment): tab, newline and carriage return allowed, no other
    control character, no lone surrogate."""

    lines = True

    def _deserialize(self, value, attr, data, **kwargs):
        text = super()._deserialize(value, attr, data, **kwargs)
        printable(text, self.lines)
        return text


class Line(Text):
    """One line (an id, a name, a query value): no control character at all, no lone surrogate."""

    lines = False


EARLIEST, LATEST = datetime(2000, 1, 1, tzinfo=UTC), datetime(2101, 1, 1, tzinfo=UTC)


class Instant(ma.fields.AwareDateTime):
    """Every instant a client sends: ISO 8601 with a UTC offset, from 2000 to 2100 (UTC). Beyond that,
    deadlines and calendars would run past what datetime holds."""

    def __init__(self, **kwargs):
        super().__init__(format="iso", **kwargs)

    def _deserialize(self, value, attr, data, **kwargs):
        instant = super()._deserialize(value, attr, data, **kwargs)
        try:
            inside = EARLIEST <= instant.astimezone(UTC) < LATEST
        except OverflowError:  # 0001-01-01T00:00+01:00 is before year 1 in UTC
            inside = False
        if not inside:
            raise ma.ValidationError("Must be an instant from 2000-01-01 to 2100-12-31 (UTC).")
        return instant


def sent(*optional: str):
    """A response schema's fields are all `required` in the OpenAPI document (the server always sends
    them, null where they allow it), except those named: a generated client gets no `Unset`."""

    def mark(cls):
        for name, field in cls._declared_fields.items():
            field.required = name not in optional
        return cls

    return mark


class CustomerSchema(ma.Schema):
    id = Line(required=True, validate=[ma.validate.Length(min=1, max=100), _not_blank])
    plan = ma.fields.String(required=True, validate=ma.validate.OneOf(PLANS))
    country = ma.fields.String(required=True, validate=_country, metadata={"description": "ISO 3166-1 alpha-2"})

    @ma.post_load
    def _make(self, data, **kwargs):
        return Customer(id=data["id"], plan=data["plan"], country=data["country"].upper())


def server_clock() -> datetime:
    return datetime.now(UTC)


class CaseSchema(ma.Schema):
    """A support case as an intake form files it.

    `reported_at` may not lie more than FUTURE_LEEWAY ahead of `clock()` (by default the server's
    clock): a case is reported before it is decided. A replay or a simulation at instants of its
    own passes its own clock, or None for no limit (golden cases, backtests of stored cases)."""

    FUTURE_LEEWAY = timedelta(minutes=5)

    def __init__(self, *args, clock: Callable[[], datetime] | None = server_clock, **kwargs):
        super().__init__(*args, **kwargs)
        self.clock = clock

    subject = Text(required=True, validate=[ma.validate.Length(min=1, max=500), _not_blank])
    description = Text(required=True, validate=ma.validate.Length(max=20_000))
    customer = ma.fields.Nested(CustomerSchema, required=True)
    environment = ma.fields.String(validate=ma.validate.OneOf(ENVIRONMENTS))
    product_area = Line(validate=[ma.validate.Length(min=1, max=100), _not_blank])
    declared_severity = ma.fields.Integer(strict=True, validate=ma.validate.OneOf(LEVELS))
    language = ma.fields.String(validate=_language, metadata={"description": "ISO 639-1; detected when absent"})
    channel = ma.fields.String(validate=ma.validate.OneOf(CHANNELS))
    tier = ma.fields.String(validate=ma.validate.OneOf(TIERS), metadata={"description": "EE or SE re-routes an escalated case"})
    reported_at = Instant(metadata={"description": "ISO 8601 with a UTC offset, 2000-2100; default now"})
    case_id = Line(validate=ma.validate.Length(min=1, max=100))

    @ma.validates("reported_at")
    def _not_ahead(self, value: datetime, **kwargs) -> None:
        if self.clock is None:
            return
        now = self.clock()
        if value > now + self.FUTURE_LEEWAY:
            minutes = int(self.FUTURE_LEEWAY.total_seconds() // 60)
            raise ma.ValidationError(f"Must not be more than {minutes} minutes in the future (now is {now.isoformat()}).")

    @ma.post_load
    def _make(self, data, **kwargs):
        data.setdefault("reported_at", datetime.now(UTC))
        if "product_area" in data:
            data["product_area"] = data["product_area"].strip().lower()
        if "language" in data:
            data["language"] = data["language"].lower()
        return Case(**data)


@sent()
class MatchedRuleSchema(ma.Schema):
    id = ma.fields.String()
    severity = ma.fields.Integer(attribute="level")
    description = ma.fields.String()


@sent()
class ClassifierSchema(ma.Schema):
    model_version = ma.fields.String()
    level = ma.fields.Integer()
    confidence = ma.fields.Float()
    probabilities = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Float())


@sent()
class SeveritySchema(ma.Schema):
    level = ma.fields.Integer()
    name = ma.fields.String()
    source = ma.fields.String(metadata={"description": "what decided: rules, classifier, declared or default"})
    matched_rules = ma.fields.List(ma.fields.Nested(MatchedRuleSchema))
    declared = ma.fields.Integer(allow_none=True)
    note = ma.fields.String(allow_none=True, metadata={"description": "why the level differs from the declared one"})
    classifier = ma.fields.Nested(
        ClassifierSchema, allow_none=True, metadata={"description": "the served model's prediction; null without a model"}
    )


@sent()
class LanguageSchema(ma.Schema):
    code = ma.fields.String()
    confidence = ma.fields.Float()
    source = ma.fields.String(metadata={"description": "given, detected or default"})
    supported = ma.fields.Boolean(
        metadata={"description": "false when signals.yaml has no vocabulary for the language (its words are not read)"}
    )


@sent()
class EvidenceSchema(ma.Schema):
    signal = ma.fields.String()
    source = ma.fields.String(metadata={"description": "the language whose vocabulary matched, or the case field"})
    matched = ma.fields.String(metadata={"description": "the words that matched (normalised), or the field's value"})


@sent()
class SlaSchema(ma.Schema):
    plan = ma.fields.String()
    target_minutes = ma.fields.Integer()
    clock = ma.fields.String(metadata={"description": "the plan's clock: business-hours or 24/7"})
    due_at = ma.fields.DateTime(format="iso")
    guaranteed = ma.fields.Boolean(metadata={"description": "false when the plan defines no target for the level"})
    note = ma.fields.String(allow_none=True)
    at_risk = ma.fields.Boolean(
        metadata={"description": "true when the deadline falls before the chosen pool opens: nobody can keep the promise"}
    )
    at_risk_reason = ma.fields.String(allow_none=True, metadata={"description": "why the deadline is at risk; null when not"})


@sent()
class RoutingSchema(ma.Schema):
    pool = ma.fields.String(attribute="pool.id")
    tier = ma.fields.String(attribute="pool.tier", metadata={"description": "L1, EE or SE"})
    respond_in = ma.fields.String(metadata={"description": "the language the pool answers in"})
    open_now = ma.fields.Boolean()
    available_at = ma.fields.DateTime(format="iso", metadata={"description": "when the pool is (or was) open"})
    urgent = ma.fields.Boolean()
    routes = ma.fields.List(ma.fields.String(), metadata={"description": "the routing rules that decided"})
    priority = ma.fields.String(
        metadata={"description": "normal, or front: the case goes to the front of the pool's queue (e.g. mission critical)"}
    )
    trace = ma.fields.List(ma.fields.String(), metadata={"description": "every step, and why pools were passed over"})


@sent()
class EntitlementSchema(ma.Schema):
    ok = ma.fields.Boolean()
    problems = ma.fields.List(ma.fields.String())


@sent()
class DecisionSchema(ma.Schema):
    class Meta:
        ordered = True

    decision_id = ma.fields.String()
    case_id = ma.fields.String(attribute="case.case_id", allow_none=True, metadata={"description": "assigned when none was sent"})
    severity = ma.fields.Nested(SeveritySchema)
    language = ma.fields.Nested(LanguageSchema)
    signals = ma.fields.List(ma.fields.String())
    evidence = ma.fields.List(ma.fields.Nested(EvidenceSchema))
    region = ma.fields.String(attribute="placement.region")
    sla = ma.fields.Nested(SlaSchema)
    routing = ma.fields.Nested(RoutingSchema)
    entitlement = ma.fields.Nested(EntitlementSchema)
    versions = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    reported_at = ma.fields.DateTime(
        format="iso", attribute="case.reported_at", metadata={"description": "the first report, in its own offset"}
    )
    decided_at = ma.fields.DateTime(format="iso")
