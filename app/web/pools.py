"""Engineer pools and their coverage."""

from flask.views import MethodView
from flask_smorest import Blueprint

from app.web import schemas as s
from app.web.access import now, requires, triage

pools = Blueprint("pools", __name__, description="Engineer pools and their coverage")


@pools.route("/v1/pools")
class Pools(MethodView):
    @requires("ops", "engineer")
    @pools.response(200, s.PoolStatusSchema(many=True))
    @pools.doc(operationId="listPools")
    def get(self):
        """Every engineer pool, its working hours and holidays, and whether it is open now."""
        return triage().pools(now())


@pools.route("/v1/coverage")
class Coverage(MethodView):
    @requires("ops", "engineer")
    @pools.arguments(s.CoverageQuerySchema, location="query")
    @pools.response(200, s.CoverageSchema)
    @pools.alt_response(422, description="`at` is not an ISO 8601 instant with a UTC offset")
    @pools.doc(operationId="getCoverage")
    def get(self, query):
        """Which pools are open at an instant, and for the closed ones why and when they open."""
        return triage().coverage(query.get("at") or now())
