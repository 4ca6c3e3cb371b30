"""HTTP views: thin. Load a schema, call one service function, dump a schema."""
from datetime import datetime, timezone

from flask import abort, current_app, request
from flask.views import MethodView
from flask_smorest import Blueprint

from .schemas import CaseSchema, CoverageQuerySchema, CoverageSchema, DecisionSchema, PoolStatusSchema

blp = Blueprint("triage", __name__, description="Classify support cases")
ops = Blueprint("pools", __name__, description="Engineer pools and their coverage")
health = Blueprint("health", __name__, description="Liveness and readiness")


def triage():
    return current_app.extensions["triage"]


@blp.before_request
def _json_only():
    if request.method in ("POST", "PUT", "PATCH") and not request.is_json:
        abort(415)


@blp.route("/v1/classify")
class Classify(MethodView):
    @blp.arguments(CaseSchema)
    @blp.response(200, DecisionSchema)
    @blp.alt_response(400, description="The body is not valid JSON")
    @blp.alt_response(413, description="The body is larger than allowed")
    @blp.alt_response(415, description="The body is not JSON")
    @blp.alt_response(422, description="Invalid fields, each named in errors")
    def post(self, case):
        """Decide a case's severity and explain why."""
        return triage().classify(case, now=datetime.now(timezone.utc))


@ops.route("/v1/pools")
class Pools(MethodView):
    @ops.response(200, PoolStatusSchema(many=True))
    def get(self):
        """Every engineer pool, its working hours and holidays, and whether it is open now."""
        return triage().pools(datetime.now(timezone.utc))


@ops.route("/v1/coverage")
class Coverage(MethodView):
    @ops.arguments(CoverageQuerySchema, location="query")
    @ops.response(200, CoverageSchema)
    @ops.alt_response(422, description="`at` is not an ISO 8601 instant with a UTC offset")
    def get(self, query):
        """Which pools are open at an instant, and for the closed ones why and when they open."""
        return triage().coverage(query.get("at") or datetime.now(timezone.utc))


@health.route("/healthz")
class Healthz(MethodView):
    @health.response(200)
    def get(self):
        """The process is alive."""
        return {"status": "ok"}


@health.route("/readyz")
class Readyz(MethodView):
    @health.response(200)
    def get(self):
        """Rules loaded and their versions; a refused rules version is reported here."""
        return triage().readiness()
