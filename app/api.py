"""HTTP views: thin. Load a schema, call one service function, dump a schema.

Access is denied by default: every view method names its roles with @requires, and a check before
every request refuses an endpoint that does not (except the public ones below)."""
from contextlib import contextmanager
from datetime import datetime, timezone
from functools import wraps

from flask import Response, current_app, g, jsonify, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort

from . import exports
from . import schemas as s

PUBLIC = {"health.Healthz", "health.Readyz", "api-docs.openapi_json"}

cases = Blueprint("cases", __name__, description="Classify support cases")
decisions = Blueprint("decisions", __name__, description="Stored decisions and engineers' corrections")
ops = Blueprint("pools", __name__, description="Engineer pools and their coverage")
admin = Blueprint("tokens", __name__, description="Access tokens")
rules = Blueprint("rules", __name__, description="Versioned rule documents: validate, publish, roll back, backtest")
health = Blueprint("health", __name__, description="Liveness and readiness")


def triage():
    return current_app.extensions["triage"]


def now() -> datetime:
    return datetime.now(timezone.utc)


def requires(*roles):
    """Only tokens with one of these roles (or admin) may call the view."""
    def decorate(view):
        @wraps(view)
        def checked(*args, **kwargs):
            if not g.principal.may(roles):
                abort(403, message=f"this needs the role {' or '.join(roles)}; the token has {g.principal.role}")
            return view(*args, **kwargs)
        checked.roles = roles
        return checked
    return decorate


def authenticate():
    """Before every request: public endpoints pass; others need a valid token (401) and a view that
    declares its roles (403). Unknown paths pass through to their 404."""
    if request.endpoint is None or request.endpoint in PUBLIC or request.method == "OPTIONS":
        return None
    header = request.headers.get("Authorization", "")
    scheme, _, token = header.partition(" ")
    principal = triage().tokens.verify(token.strip()) if scheme.lower() == "bearer" and token.strip() else None
    if principal is None:
        abort(401, message="send a valid token: Authorization: Bearer <token>", headers={"WWW-Authenticate": "Bearer"})
    view_class = getattr(current_app.view_functions[request.endpoint], "view_class", None)
    method = getattr(view_class, request.method.lower(), None)
    if getattr(method, "roles", None) is None:  # a view without declared roles is closed to everyone
        abort(403, message="no role may call this endpoint")
    g.principal = principal
    return None


@cases.before_request
@decisions.before_request
@admin.before_request
@rules.before_request
def _json_only():
    if request.method in ("POST", "PUT", "PATCH") and not request.is_json:
        abort(415)


# -- cases ----------------------------------------------------------------------------------

@cases.route("/v1/classify")
class Classify(MethodView):
    @requires("intake")
    @cases.arguments(s.CaseSchema)
    @cases.response(200, s.DecisionSchema)
    @cases.alt_response(400, description="The body is not valid JSON")
    @cases.alt_response(413, description="The body is larger than allowed")
    @cases.alt_response(415, description="The body is not JSON")
    @cases.alt_response(422, description="Invalid fields, each named in errors")
    def post(self, case):
        """Decide a case's severity, deadline and pool, explain why, and keep the decision."""
        # the answer is dumped once by the service (it is also what is stored), so it goes out as is
        return jsonify(triage().classify_and_record(case, request.get_json(), now()))


# -- decisions ------------------------------------------------------------------------------

@decisions.route("/v1/decisions")
class Decisions(MethodView):
    @requires("engineer", "analyst")
    @decisions.arguments(s.DecisionQuerySchema, location="query")
    @decisions.response(200, s.DecisionPageSchema)
    def get(self, query):
        """Stored decisions, newest first, filtered by time, customer, severity, pool and source."""
        return triage().store.find(**query)


@decisions.route("/v1/decisions/<decision_id>")
class DecisionById(MethodView):
    @requires("engineer", "analyst")
    @decisions.response(200, s.StoredDecisionSchema)
    @decisions.alt_response(404, description="No such decision")
    def get(self, decision_id):
        """One stored decision: the case as sent, the whole answer, the versions, and every correction."""
        return triage().store.get(decision_id) or abort(404, message=f"no decision {decision_id}")


@decisions.route("/v1/decisions/<decision_id>/feedback")
class Feedback(MethodView):
    @requires("engineer")
    @decisions.arguments(s.FeedbackSchema)
    @decisions.response(201, s.FeedbackRecordSchema)
    @decisions.alt_response(404, description="No such decision")
    def post(self, correction, decision_id):
        """Record an engineer's correction; it is kept as history and never overwrites the decision."""
        pools = triage().rules.get().pools
        if correction.get("pool") is not None and correction["pool"] not in pools:
            abort(422, messages={"json": {"pool": [f"no pool {correction['pool']!r}; pools are {', '.join(pools)}"]}})
        record = triage().store.add_feedback(decision_id, correction.get("severity"), correction.get("pool"),
                                             correction.get("comment"), correction.get("by") or g.principal.name)
        return record or abort(404, message=f"no decision {decision_id}")


@decisions.route("/v1/exports/decisions")
class Export(MethodView):
    @requires("analyst")
    @decisions.arguments(s.ExportQuerySchema, location="query")
    @decisions.response(200, description="CSV or JSON Lines, one decision a row, with the latest correction")
    def get(self, query):
        """Decisions for analysts: the case, the assigned and the corrected severity and pool."""
        body = exports.text(triage().store.export(query.get("since")), query["format"])
        kind = "text/csv" if query["format"] == "csv" else "application/jsonl"
        return Response(body, mimetype=kind)


# -- pools ----------------------------------------------------------------------------------

@ops.route("/v1/pools")
class Pools(MethodView):
    @requires("ops", "engineer")
    @ops.response(200, s.PoolStatusSchema(many=True))
    def get(self):
        """Every engineer pool, its working hours and holidays, and whether it is open now."""
        return triage().pools(now())


@ops.route("/v1/coverage")
class Coverage(MethodView):
    @requires("ops", "engineer")
    @ops.arguments(s.CoverageQuerySchema, location="query")
    @ops.response(200, s.CoverageSchema)
    @ops.alt_response(422, description="`at` is not an ISO 8601 instant with a UTC offset")
    def get(self, query):
        """Which pools are open at an instant, and for the closed ones why and when they open."""
        return triage().coverage(query.get("at") or now())


# -- tokens ---------------------------------------------------------------------------------

@admin.route("/v1/tokens")
class TokenList(MethodView):
    @requires("admin")
    @admin.response(200, s.TokenSchema(many=True))
    def get(self):
        """Every token (never its secret), revoked ones included."""
        return triage().store.tokens()

    @requires("admin")
    @admin.arguments(s.NewTokenSchema)
    @admin.response(201, s.CreatedTokenSchema)
    def post(self, new):
        """Create a token; its secret is in this answer and nowhere else, ever."""
        record, token = triage().tokens.create(new["name"], new["role"])
        return {**record, "token": token}


@admin.route("/v1/tokens/<token_id>")
class TokenById(MethodView):
    @requires("admin")
    @admin.response(204)
    @admin.alt_response(404, description="No such active token")
    def delete(self, token_id):
        """Revoke a token; every process stops accepting it within the token refresh interval."""
        if not triage().tokens.revoke(token_id):
            abort(404, message=f"no active token {token_id}")


# -- rules ----------------------------------------------------------------------------------

def publisher():
    return triage().publisher


@contextmanager
def _rule_errors():
    """The publisher's refusals as HTTP answers."""
    from .documents import RulesInvalid
    from .publishing import NotFound, PreconditionRequired
    from .store import Conflict

    try:
        yield
    except NotFound as exc:
        abort(404, message=str(exc))
    except Conflict as exc:
        abort(409, message=str(exc))
    except PreconditionRequired as exc:
        abort(428, message=str(exc))
    except RulesInvalid as exc:
        abort(422, message="the rules would be invalid; nothing changed",
              messages={"json": {"content": [str(p) for p in exc.problems]}})


@rules.route("/v1/rules")
class RuleDocuments(MethodView):
    @requires("ops")
    @rules.response(200, s.RuleVersionSchema(many=True))
    def get(self):
        """The current version of every rule document."""
        with _rule_errors():
            return publisher().documents()


@rules.route("/v1/rules/<name>")
class RuleDocument(MethodView):
    @requires("ops")
    @rules.response(200, s.RuleDocumentSchema)
    @rules.alt_response(404, description="No such document")
    def get(self, name):
        """The current version of a document, its YAML text, and its ETag."""
        from .publishing import etag

        with _rule_errors():
            document = publisher().document(name)
        return document, 200, {"ETag": etag(document["version"])}

    @requires("ops")
    @rules.arguments(s.RuleContentSchema)
    @rules.response(200, s.RuleVersionSchema)
    @rules.alt_response(409, description="Someone published in between (If-Match is stale)")
    @rules.alt_response(422, description="The rules would be invalid; every problem is listed")
    @rules.alt_response(428, description="If-Match is missing")
    def put(self, body, name):
        """Publish a new version; it is live in every worker and instance within a few seconds."""
        from .publishing import etag

        with _rule_errors():
            version = publisher().publish(name, body["content"], body["comment"], g.principal.name,
                                          request.headers.get("If-Match"))
        return version, 200, {"ETag": etag(version["version"])}


@rules.route("/v1/rules/<name>/versions")
class RuleHistory(MethodView):
    @requires("ops")
    @rules.response(200, s.RuleVersionSchema(many=True))
    def get(self, name):
        """Every version, newest first: who changed it, when and why."""
        with _rule_errors():
            return publisher().history(name)


@rules.route("/v1/rules/<name>/validate")
class RuleValidate(MethodView):
    @requires("ops")
    @rules.arguments(s.RuleContentSchema)
    @rules.response(200, s.ValidationReportSchema)
    def post(self, body, name):
        """Every problem the rules would have with this content (file, item, field); nothing changes."""
        with _rule_errors():
            problems = publisher().problems(name, body["content"])
        return {"valid": not problems, "problems": [p.to_dict() for p in problems]}


@rules.route("/v1/rules/<name>/rollback")
class RuleRollback(MethodView):
    @requires("ops")
    @rules.arguments(s.RollbackSchema)
    @rules.response(201, s.RuleVersionSchema)
    def post(self, body, name):
        """Publish an earlier version's content again, as a new version."""
        with _rule_errors():
            return publisher().rollback(name, body["version"], body.get("comment", ""), g.principal.name)


@rules.route("/v1/rules/<name>/backtest")
class RuleBacktest(MethodView):
    @requires("ops")
    @rules.arguments(s.BacktestSchema)
    @rules.response(200, s.BacktestReportSchema)
    def post(self, body, name):
        """Replay stored decisions at their original instants with the proposed content in place of the
        current; report every case whose severity, pool, language or deadline would change."""
        with _rule_errors():
            return publisher().backtest(name, body["content"], body["limit"], body.get("since"), body.get("until"))


# -- health ---------------------------------------------------------------------------------

@health.route("/healthz")
class Healthz(MethodView):
    @health.response(200)
    @health.doc(security=[])
    def get(self):
        """The process is alive."""
        return {"status": "ok"}


@health.route("/readyz")
class Readyz(MethodView):
    @health.response(200)
    @health.doc(security=[])
    def get(self):
        """Rules loaded and their versions, the database, and how many decisions wait in the spool."""
        return triage().readiness()
