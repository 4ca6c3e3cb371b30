"""The HTTP contract: marshmallow schemas for a case coming in and a decision going out."""
from datetime import datetime, timezone

import marshmallow as ma
import pycountry

from .cases import CHANNELS, ENVIRONMENTS, LEVELS, PLANS, Case, Customer
from .auth import ROLES
from .pools import TIERS


def _not_blank(value: str) -> None:
    if not value.strip():
        raise ma.ValidationError("Must not be blank.")


def _country(value: str) -> None:
    if len(value) != 2 or pycountry.countries.get(alpha_2=value.upper()) is None:
        raise ma.ValidationError(f"{value!r} is not an ISO 3166-1 alpha-2 country code.")


def _language(value: str) -> None:
    if len(value) != 2 or pycountry.languages.get(alpha_2=value.lower()) is None:
        raise ma.ValidationError(f"{value!r} is not an ISO 639-1 language code.")


class CustomerSchema(ma.Schema):
    id = ma.fields.String(required=True, validate=[ma.validate.Length(min=1, max=100), _not_blank])
    plan = ma.fields.String(required=True, validate=ma.validate.OneOf(PLANS))
    country = ma.fields.String(required=True, validate=_country, metadata={"description": "ISO 3166-1 alpha-2"})

    @ma.post_load
    def _make(self, data, **kwargs):
        return Customer(id=data["id"], plan=data["plan"], country=data["country"].upper())


class CaseSchema(ma.Schema):
    """A support case as an intake form files it."""

    subject = ma.fields.String(required=True, validate=[ma.validate.Length(min=1, max=500), _not_blank])
    description = ma.fields.String(required=True, validate=ma.validate.Length(max=20_000))
    customer = ma.fields.Nested(CustomerSchema, required=True)
    environment = ma.fields.String(validate=ma.validate.OneOf(ENVIRONMENTS))
    product_area = ma.fields.String(validate=[ma.validate.Length(min=1, max=100), _not_blank])
    declared_severity = ma.fields.Integer(strict=True, validate=ma.validate.OneOf(LEVELS))
    language = ma.fields.String(validate=_language, metadata={"description": "ISO 639-1; detected when absent"})
    channel = ma.fields.String(validate=ma.validate.OneOf(CHANNELS))
    tier = ma.fields.String(validate=ma.validate.OneOf(TIERS), metadata={"description": "EE or SE re-routes an escalated case"})
    reported_at = ma.fields.AwareDateTime(format="iso", metadata={"description": "ISO 8601 with a UTC offset; default now"})
    case_id = ma.fields.String(validate=ma.validate.Length(min=1, max=100))

    @ma.post_load
    def _make(self, data, **kwargs):
        data.setdefault("reported_at", datetime.now(timezone.utc))
        if "product_area" in data:
            data["product_area"] = data["product_area"].strip().lower()
        if "language" in data:
            data["language"] = data["language"].lower()
        return Case(**data)


class MatchedRuleSchema(ma.Schema):
    id = ma.fields.String()
    severity = ma.fields.Integer(attribute="level")
    description = ma.fields.String()


class ClassifierSchema(ma.Schema):
    model_version = ma.fields.String()
    level = ma.fields.Integer()
    confidence = ma.fields.Float()
    probabilities = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Float())


class SeveritySchema(ma.Schema):
    level = ma.fields.Integer()
    name = ma.fields.String()
    source = ma.fields.String(metadata={"description": "what decided: rules, classifier, declared or default"})
    matched_rules = ma.fields.List(ma.fields.Nested(MatchedRuleSchema))
    declared = ma.fields.Integer(allow_none=True)
    note = ma.fields.String(allow_none=True, metadata={"description": "why the level differs from the declared one"})
    classifier = ma.fields.Nested(ClassifierSchema, allow_none=True,
                                  metadata={"description": "the served model's prediction; null without a model"})


class LanguageSchema(ma.Schema):
    code = ma.fields.String()
    confidence = ma.fields.Float()
    source = ma.fields.String(metadata={"description": "given, detected or default"})


class EvidenceSchema(ma.Schema):
    signal = ma.fields.String()
    source = ma.fields.String(metadata={"description": "the language whose vocabulary matched, or the case field"})
    matched = ma.fields.String(metadata={"description": "the words that matched (normalised), or the field's value"})


class SlaSchema(ma.Schema):
    plan = ma.fields.String()
    target_minutes = ma.fields.Integer()
    clock = ma.fields.String(metadata={"description": "the plan's clock: business-hours or 24/7"})
    due_at = ma.fields.DateTime(format="iso")
    guaranteed = ma.fields.Boolean(metadata={"description": "false when the plan defines no target for the level"})
    note = ma.fields.String(allow_none=True)


class RoutingSchema(ma.Schema):
    pool = ma.fields.Function(lambda r: r.pool.id)
    tier = ma.fields.Function(lambda r: r.pool.tier)
    respond_in = ma.fields.String(metadata={"description": "the language the pool answers in"})
    open_now = ma.fields.Boolean()
    available_at = ma.fields.DateTime(format="iso", metadata={"description": "when the pool is (or was) open"})
    urgent = ma.fields.Boolean()
    routes = ma.fields.List(ma.fields.String(), metadata={"description": "the routing rules that decided"})
    trace = ma.fields.List(ma.fields.String(), metadata={"description": "every step, and why pools were passed over"})


class EntitlementSchema(ma.Schema):
    ok = ma.fields.Boolean()
    problems = ma.fields.List(ma.fields.String())


class DecisionSchema(ma.Schema):
    class Meta:
        ordered = True

    decision_id = ma.fields.String()
    case_id = ma.fields.Function(lambda d: d.case.case_id, allow_none=True)
    severity = ma.fields.Nested(SeveritySchema)
    language = ma.fields.Nested(LanguageSchema)
    signals = ma.fields.List(ma.fields.String())
    evidence = ma.fields.List(ma.fields.Nested(EvidenceSchema))
    region = ma.fields.Function(lambda d: d.region.region)
    sla = ma.fields.Nested(SlaSchema)
    routing = ma.fields.Nested(RoutingSchema)
    entitlement = ma.fields.Nested(EntitlementSchema)
    versions = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.String())
    reported_at = ma.fields.Function(lambda d: d.case.reported_at.isoformat())
    decided_at = ma.fields.DateTime(format="iso")


class PoolSchema(ma.Schema):
    class Meta:
        ordered = True

    id = ma.fields.String()
    description = ma.fields.String()
    tier = ma.fields.String()
    region = ma.fields.String(allow_none=True)
    countries = ma.fields.List(ma.fields.String())
    languages = ma.fields.List(ma.fields.String())
    areas = ma.fields.List(ma.fields.String())
    timezone = ma.fields.String()
    hours = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.List(ma.fields.String()))
    holiday_calendar = ma.fields.Dict(allow_none=True)
    always_open = ma.fields.Boolean()
    customers = ma.fields.List(ma.fields.String())
    plans = ma.fields.List(ma.fields.String())


class PoolStatusSchema(PoolSchema):
    open_now = ma.fields.Boolean()
    closed_reason = ma.fields.String(allow_none=True)


class CoverageQuerySchema(ma.Schema):
    at = ma.fields.AwareDateTime(format="iso", metadata={"description": "ISO 8601 instant with a UTC offset; default now"})


class ClosedPoolSchema(ma.Schema):
    pool = ma.fields.String()
    reason = ma.fields.String()
    opens_at = ma.fields.DateTime(format="iso")


class CoverageSchema(ma.Schema):
    at = ma.fields.DateTime(format="iso")
    open = ma.fields.List(ma.fields.String())
    closed = ma.fields.List(ma.fields.Nested(ClosedPoolSchema))


class DecisionQuerySchema(ma.Schema):
    since = ma.fields.AwareDateTime(format="iso", metadata={"description": "decided at or after"})
    until = ma.fields.AwareDateTime(format="iso", metadata={"description": "decided before"})
    customer = ma.fields.String()
    severity = ma.fields.Integer(validate=ma.validate.OneOf(LEVELS))
    pool = ma.fields.String()
    source = ma.fields.String(validate=ma.validate.OneOf(("rules", "declared", "default", "classifier")))
    cursor = ma.fields.String(metadata={"description": "next_cursor of the previous page"})
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=500))


class FeedbackRecordSchema(ma.Schema):
    id = ma.fields.Integer()
    severity = ma.fields.Integer(allow_none=True)
    pool = ma.fields.String(allow_none=True)
    comment = ma.fields.String(allow_none=True)
    by = ma.fields.String()
    created_at = ma.fields.DateTime(format="iso")


class DecisionSummarySchema(ma.Schema):
    decision_id = ma.fields.String()
    decided_at = ma.fields.DateTime(format="iso")
    reported_at = ma.fields.DateTime(format="iso")
    customer_id = ma.fields.String()
    plan = ma.fields.String()
    severity = ma.fields.Integer()
    source = ma.fields.String()
    pool = ma.fields.String()
    rules_version = ma.fields.String()
    model_version = ma.fields.String(allow_none=True)


class StoredDecisionSchema(DecisionSummarySchema):
    request = ma.fields.Dict(metadata={"description": "the case as the client sent it"})
    answer = ma.fields.Dict(metadata={"description": "the whole answer the client got"})
    stored_at = ma.fields.DateTime(format="iso")
    feedback = ma.fields.List(ma.fields.Nested(FeedbackRecordSchema))


class DecisionPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(DecisionSummarySchema))
    next_cursor = ma.fields.String(allow_none=True)


class FeedbackSchema(ma.Schema):
    severity = ma.fields.Integer(strict=True, validate=ma.validate.OneOf(LEVELS))
    pool = ma.fields.String(validate=ma.validate.Length(min=1, max=64))
    comment = ma.fields.String(validate=ma.validate.Length(max=2000))
    by = ma.fields.String(validate=ma.validate.Length(min=1, max=100), metadata={"description": "default: the token's name"})

    @ma.validates_schema
    def _something(self, data, **kwargs):
        if not any(key in data for key in ("severity", "pool", "comment")):
            raise ma.ValidationError("give a severity, a pool or a comment", field_name="severity")


class ExportQuerySchema(ma.Schema):
    format = ma.fields.String(load_default="csv", validate=ma.validate.OneOf(("csv", "jsonl")))
    since = ma.fields.AwareDateTime(format="iso")


class TokenSchema(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    role = ma.fields.String()
    created_at = ma.fields.DateTime(format="iso")
    revoked_at = ma.fields.DateTime(format="iso", allow_none=True)


class CreatedTokenSchema(TokenSchema):
    token = ma.fields.String(metadata={"description": "shown once; only its hash is kept"})


class NewTokenSchema(ma.Schema):
    name = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=100))
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(ROLES))


class RuleVersionSchema(ma.Schema):
    name = ma.fields.String()
    version = ma.fields.Integer()
    sha256 = ma.fields.String()
    author = ma.fields.String()
    comment = ma.fields.String()
    created_at = ma.fields.DateTime(format="iso")


class RuleDocumentSchema(RuleVersionSchema):
    content = ma.fields.String(metadata={"description": "the document's YAML text"})


class RuleContentSchema(ma.Schema):
    content = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=1_000_000))
    comment = ma.fields.String(load_default="", validate=ma.validate.Length(max=2000))


class ValidationReportSchema(ma.Schema):
    valid = ma.fields.Boolean()
    problems = ma.fields.List(ma.fields.Dict())


class RollbackSchema(ma.Schema):
    version = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(min=1))
    comment = ma.fields.String(validate=ma.validate.Length(max=2000))


class BacktestSchema(ma.Schema):
    content = ma.fields.String(required=True, validate=ma.validate.Length(min=1, max=1_000_000))
    limit = ma.fields.Integer(load_default=1000, validate=ma.validate.Range(min=1, max=20_000),
                              metadata={"description": "the newest stored decisions to replay"})
    since = ma.fields.AwareDateTime(format="iso")
    until = ma.fields.AwareDateTime(format="iso")


class BacktestReportSchema(ma.Schema):
    document = ma.fields.String()
    cases = ma.fields.Integer()
    changed = ma.fields.Integer()
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    urgent_on_closed_pool = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Float(),
                                           metadata={"description": "share of urgent cases landing on a closed pool, before and after"})
    changes = ma.fields.List(ma.fields.Dict())
    golden = ma.fields.Dict()
