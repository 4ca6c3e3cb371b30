"""The HTTP schemas of everything but the case and the decision (those are app.decide.contract)."""

import marshmallow as ma

from app.decide.contract import CaseSchema, DecisionSchema, Instant, Line, Text, sent
from app.lifecycle.case import EVENTS, STATES
from app.routing.escalation import ESCALATION_TIERS
from app.rulelang.domain import LEVELS, MAX_RULE_DOCUMENT, PLANS
from app.store.tokens import ROLES


class Stored(ma.fields.Nested):
    """A stored JSON document, sent as it was kept; documented by the schema it was dumped with."""

    def _serialize(self, value, attr, obj, **kwargs):
        return value


class ErrorSchema(ma.Schema):
    """The one envelope of every error answer."""

    class Meta:
        ordered = True

    code = ma.fields.Integer(required=True, metadata={"description": "the HTTP status"})
    status = ma.fields.String(required=True, metadata={"description": "the status's name"})
    message = ma.fields.String(required=True)
    errors = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.String()),
        required=True,
        metadata={"description": "each bad field (dotted path) and what is wrong with it; empty otherwise"},
    )


@sent()
class HolidayCalendarOutSchema(ma.Schema):
    country = ma.fields.String()
    subdivision = ma.fields.String(allow_none=True)
    categories = ma.fields.List(ma.fields.String())
    extra = ma.fields.Dict(
        keys=ma.fields.String(), values=ma.fields.String(), metadata={"description": "company days off: date -> name"}
    )


@sent()
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
    holiday_calendar = ma.fields.Nested(HolidayCalendarOutSchema, allow_none=True)
    always_open = ma.fields.Boolean()
    customers = ma.fields.List(ma.fields.String())
    plans = ma.fields.List(ma.fields.String())
    named_only = ma.fields.Boolean(metadata={"description": "taken only by a route that names it"})


@sent()
class PoolStatusSchema(PoolSchema):
    open_now = ma.fields.Boolean()
    closed_reason = ma.fields.String(allow_none=True)


class CoverageQuerySchema(ma.Schema):
    at = Instant(metadata={"description": "ISO 8601 instant with a UTC offset, 2000-2100; default now"})


@sent()
class ClosedPoolSchema(ma.Schema):
    pool = ma.fields.String()
    reason = ma.fields.String()
    opens_at = ma.fields.DateTime(format="iso")


@sent()
class CoverageSchema(ma.Schema):
    at = ma.fields.DateTime(format="iso")
    open = ma.fields.List(ma.fields.String())
    closed = ma.fields.List(ma.fields.Nested(ClosedPoolSchema))


class DecisionQuerySchema(ma.Schema):
    since = Instant(metadata={"description": "decided at or after"})
    until = Instant(metadata={"description": "decided before"})
    customer = Line()
    severity = ma.fields.Integer(validate=ma.validate.OneOf(LEVELS))
    pool = Line()
    source = ma.fields.String(validate=ma.validate.OneOf(("rules", "declared", "default", "classifier")))
    cursor = Line(metadata={"description": "next_cursor of the previous page"})
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=500))


@sent()
class FeedbackRecordSchema(ma.Schema):
    id = ma.fields.Integer()
    severity = ma.fields.Integer(allow_none=True)
    pool = ma.fields.String(allow_none=True)
    comment = ma.fields.String(allow_none=True)
    by = ma.fields.String()
    created_at = ma.fields.DateTime(format="iso")


@sent()
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
    case_id = ma.fields.String(allow_none=True, metadata={"description": "null on decisions stored before cases had a life"})


@sent()
class StoredDecisionSchema(DecisionSummarySchema):
    request = Stored(CaseSchema, metadata={"description": "the case as the client sent it"})
    answer = Stored(DecisionSchema, metadata={"description": "the whole answer the client got"})
    stored_at = ma.fields.DateTime(format="iso")
    feedback = ma.fields.List(ma.fields.Nested(FeedbackRecordSchema))


@sent()
class DecisionPageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(DecisionSummarySchema))
    next_cursor = ma.fields.String(allow_none=True)


class FeedbackSchema(ma.Schema):
    """An engineer's correction; its author is the token's name (a `by` field is refused)."""

    severity = ma.fields.Integer(strict=True, validate=ma.validate.OneOf(LEVELS))
    pool = Line(validate=ma.validate.Length(min=1, max=64))
    comment = Text(validate=ma.validate.Length(max=2000))

    @ma.validates_schema
    def _something(self, data, **kwargs):
        if not any(key in data for key in ("severity", "pool", "comment")):
            raise ma.ValidationError("give a severity, a pool or a comment", field_name="severity")


class ExportQuerySchema(ma.Schema):
    format = ma.fields.String(load_default="csv", validate=ma.validate.OneOf(("csv", "jsonl")))
    since = Instant(metadata={"description": "decided at or after"})
    until = Instant(metadata={"description": "decided before"})


@sent()
class TokenSchema(ma.Schema):
    id = ma.fields.String()
    name = ma.fields.String()
    role = ma.fields.String()
    created_at = ma.fields.DateTime(format="iso")
    revoked_at = ma.fields.DateTime(format="iso", allow_none=True)


@sent()
class CreatedTokenSchema(TokenSchema):
    token = ma.fields.String(metadata={"description": "shown once; only its hash is kept"})


class NewTokenSchema(ma.Schema):
    name = Line(required=True, validate=ma.validate.Length(min=1, max=100))
    role = ma.fields.String(required=True, validate=ma.validate.OneOf(ROLES))


@sent()
class RuleVersionSchema(ma.Schema):
    name = ma.fields.String()
    version = ma.fields.Integer()
    sha256 = ma.fields.String()
    author = ma.fields.String()
    comment = ma.fields.String()
    created_at = ma.fields.DateTime(format="iso")


@sent()
class RuleDocumentSchema(RuleVersionSchema):
    content = ma.fields.String(metadata={"description": "the document's YAML text"})


_CONTENT = {
    "description": f"the document's YAML text, up to {MAX_RULE_DOCUMENT:,} characters (the whole body of a /v1/rules "
    "request may have TRIAGE_MAX_RULES_CONTENT_LENGTH bytes, by default as many)"
}


class RuleContentSchema(ma.Schema):
    content = Text(required=True, validate=ma.validate.Length(min=1, max=MAX_RULE_DOCUMENT), metadata=_CONTENT)
    comment = Text(load_default="", validate=ma.validate.Length(max=2000))


class PublishSchema(RuleContentSchema):
    golden = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Regexp(r"^[a-z0-9][a-z0-9_-]{0,59}$")),
        values=Text(validate=ma.validate.Length(min=1, max=MAX_RULE_DOCUMENT)),
        load_default=dict,
        validate=ma.validate.Length(max=50),
        metadata={
            "description": "golden case files published with this change, by file stem (tests/<stem>.yaml): "
            "update the cases the change is meant to alter"
        },
    )
    force = ma.fields.Boolean(
        load_default=False,
        metadata={"description": "publish although golden cases fail; needs a comment saying why, kept marked in the history"},
    )


@sent()
@sent()
class ProblemSchema(ma.Schema):
    file = ma.fields.String()
    item = ma.fields.String(metadata={"description": "the item (e.g. rules[outage]); empty for the whole document"})
    field = ma.fields.String()
    message = ma.fields.String()


@sent()
class ValidationReportSchema(ma.Schema):
    valid = ma.fields.Boolean()
    problems = ma.fields.List(ma.fields.Nested(ProblemSchema))


class RollbackSchema(ma.Schema):
    version = ma.fields.Integer(required=True, strict=True, validate=ma.validate.Range(min=1, max=2**31 - 1))
    comment = Text(validate=ma.validate.Length(max=2000))


class BacktestSchema(ma.Schema):
    content = Text(required=True, validate=ma.validate.Length(min=1, max=MAX_RULE_DOCUMENT), metadata=_CONTENT)
    limit = ma.fields.Integer(
        load_default=1000,
        validate=ma.validate.Range(min=1, max=20_000),
        metadata={"description": "the newest stored decisions to replay"},
    )
    since = Instant()
    until = Instant()


@sent()
class BacktestChangeSchema(ma.Schema):
    decision_id = ma.fields.String()
    reported_at = ma.fields.String(metadata={"format": "date-time", "description": "ISO 8601, in the offset the customer sent"})
    changes = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.List(ma.fields.Raw()),
        metadata={"description": "severity, pool, respond_in or due_at: [before, after]"},
    )


@sent()
class GoldenFailureSchema(ma.Schema):
    file = ma.fields.String()
    name = ma.fields.String()
    failures = ma.fields.List(ma.fields.String())


@sent()
class GoldenSummarySchema(ma.Schema):
    passed = ma.fields.Integer()
    failed = ma.fields.List(ma.fields.Nested(GoldenFailureSchema))


@sent()
class BacktestReportSchema(ma.Schema):
    document = ma.fields.String()
    cases = ma.fields.Integer(metadata={"description": "stored decisions replayed"})
    complete = ma.fields.Boolean(
        metadata={
            "description": "false when the time budget (TRIAGE_BACKTEST_BUDGET) ran out first: the newest cases were replayed"
        }
    )
    changed = ma.fields.Integer()
    counts = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Integer())
    urgent_on_closed_pool = ma.fields.Dict(
        keys=ma.fields.String(),
        values=ma.fields.Float(),
        metadata={"description": "share of urgent cases landing on a closed pool, before and after"},
    )
    changes = ma.fields.List(ma.fields.Nested(BacktestChangeSchema))
    golden = ma.fields.Nested(GoldenSummarySchema)


# -- cases ------------------------------------------------------------------------------------


class CaseEventSchema(ma.Schema):
    """An event on a case; which fields it takes depends on its type."""

    type = ma.fields.String(required=True, validate=ma.validate.OneOf(EVENTS))
    at = Instant(metadata={"description": "when it happened (ISO 8601 with offset); default now"})
    level = ma.fields.Integer(strict=True, validate=ma.validate.OneOf(LEVELS), metadata={"description": "severity_changed"})
    reason = Text(validate=ma.validate.Length(min=1, max=2000), metadata={"description": "severity_changed"})
    tier = ma.fields.String(validate=ma.validate.OneOf(ESCALATION_TIERS), metadata={"description": "escalated: EE or SE"})
    area = Line(validate=ma.validate.Length(min=1, max=100), metadata={"description": "escalated: a product area"})
    pool = Line(validate=ma.validate.Length(min=1, max=64), metadata={"description": "reassigned"})
    engineer = Line(
        validate=ma.validate.Length(min=1, max=100), metadata={"description": "who acted, when an integration sends it"}
    )
    comment = Text(validate=ma.validate.Length(max=2000))

    _NEEDS = {"severity_changed": ("level", "reason"), "escalated": ("tier",), "reassigned": ("pool",)}
    _TAKES = {"severity_changed": {"level", "reason"}, "escalated": {"tier", "area"}, "reassigned": {"pool"}}

    @ma.validates_schema
    def _fits_type(self, data, **kwargs):
        kind = data.get("type")
        errors = {name: [f"{kind} needs {name}"] for name in self._NEEDS.get(kind, ()) if name not in data}
        for name in ("level", "reason", "tier", "area", "pool"):
            if name in data and name not in self._TAKES.get(kind, set()):
                errors[name] = [f"{kind} takes no {name}"]
        if errors:
            raise ma.ValidationError(errors)


@sent()
class TimelineEntrySchema(ma.Schema):
    type = ma.fields.String()
    at = ma.fields.DateTime(format="iso")
    author = ma.fields.String()
    engineer = ma.fields.String(allow_none=True)
    data = ma.fields.Dict()


@sent()
class ResponseClockSchema(ma.Schema):
    plan = ma.fields.String()
    clock = ma.fields.String()
    level = ma.fields.Integer()
    target_minutes = ma.fields.Integer()
    guaranteed = ma.fields.Boolean()
    started_at = ma.fields.DateTime(format="iso")
    due_at = ma.fields.DateTime(format="iso", allow_none=True)
    paused = ma.fields.Boolean()
    paused_minutes = ma.fields.Float()
    acknowledged_at = ma.fields.DateTime(format="iso", allow_none=True)
    response_minutes = ma.fields.Float(allow_none=True)
    status = ma.fields.String(metadata={"description": "running, paused, met or missed"})
    minutes_left = ma.fields.Float(allow_none=True)
    minutes_late = ma.fields.Float(allow_none=True)
    cycle = ma.fields.Integer(metadata={"description": "0, then one more for each regrade that re-targeted the clock"})


@sent()
class ClocksSchema(ma.Schema):
    response = ma.fields.Nested(ResponseClockSchema, metadata={"description": "the first-response promise"})


@sent()
class CaseViewSchema(ma.Schema):
    class Meta:
        ordered = True

    case_id = ma.fields.String()
    customer_id = ma.fields.String()
    plan = ma.fields.String()
    state = ma.fields.String(metadata={"description": "open, acknowledged, waiting or resolved"})
    severity = ma.fields.Integer()
    pool = ma.fields.String()
    tier = ma.fields.String()
    breached = ma.fields.Boolean(metadata={"description": "the first response was late, or has not come by the deadline"})
    clocks = ma.fields.Nested(ClocksSchema)
    timeline = ma.fields.List(ma.fields.Nested(TimelineEntrySchema), attribute="entries")


@sent()
class CaseSummarySchema(ma.Schema):
    case_id = ma.fields.String()
    customer_id = ma.fields.String()
    plan = ma.fields.String()
    state = ma.fields.String()
    severity = ma.fields.Integer()
    pool = ma.fields.String()
    tier = ma.fields.String()
    reported_at = ma.fields.DateTime(format="iso")
    due_at = ma.fields.DateTime(format="iso", allow_none=True)
    acknowledged_at = ma.fields.DateTime(format="iso", allow_none=True)
    clock_status = ma.fields.String()
    breached = ma.fields.Boolean()


@sent()
class CasePageSchema(ma.Schema):
    items = ma.fields.List(ma.fields.Nested(CaseSummarySchema))
    next_cursor = ma.fields.String(allow_none=True)


class CaseQuerySchema(ma.Schema):
    state = ma.fields.String(validate=ma.validate.OneOf(STATES))
    pool = Line()
    customer = Line()
    plan = ma.fields.String(validate=ma.validate.OneOf(PLANS))
    severity = ma.fields.Integer(validate=ma.validate.OneOf(LEVELS))
    tier = Line()
    at_risk = ma.fields.Boolean(metadata={"description": "unacknowledged with half the target or more gone, not yet late"})
    breached = ma.fields.Boolean(metadata={"description": "missed or unacknowledged past the deadline"})
    since = Instant(metadata={"description": "first reported at or after"})
    until = Instant(metadata={"description": "first reported before"})
    cursor = Line(metadata={"description": "next_cursor of the previous page"})
    limit = ma.fields.Integer(load_default=50, validate=ma.validate.Range(min=1, max=500))


@sent()
class AcceptedEventSchema(ma.Schema):
    accepted = ma.fields.Boolean()
    event_id = ma.fields.String()
    message = ma.fields.String()


class SlaReportQuerySchema(ma.Schema):
    period = Line(required=True, metadata={"description": "a month (2026-11) or a quarter (2026-Q4)"})
    customer = Line()


@sent()
class SlaMissSchema(ma.Schema):
    case_id = ma.fields.String()
    severity = ma.fields.Integer()
    due_at = ma.fields.DateTime(format="iso", allow_none=True)
    acknowledged_at = ma.fields.DateTime(format="iso", allow_none=True)
    unacknowledged = ma.fields.Boolean()
    minutes_late = ma.fields.Float(allow_none=True)
    penalty = ma.fields.Float()


@sent()
class SlaCustomerSchema(ma.Schema):
    customer = ma.fields.String()
    plan = ma.fields.String()
    contract = ma.fields.String(allow_none=True)
    cases = ma.fields.Integer()
    met = ma.fields.Integer()
    missed = ma.fields.Integer()
    pending = ma.fields.Integer()
    attainment = ma.fields.Float(allow_none=True, metadata={"description": "percent of decided responses met"})
    median_response_minutes = ma.fields.Float(allow_none=True)
    p90_response_minutes = ma.fields.Float(allow_none=True)
    misses = ma.fields.List(ma.fields.Nested(SlaMissSchema))
    penalty_total = ma.fields.Float()


@sent()
class SlaReportSchema(ma.Schema):
    period = ma.fields.String()
    start = ma.fields.DateTime(format="iso")
    end = ma.fields.DateTime(format="iso")
    currency = ma.fields.String()
    customers = ma.fields.List(ma.fields.Nested(SlaCustomerSchema))
    penalty_total = ma.fields.Float()
