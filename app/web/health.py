"""Liveness and readiness (public)."""

from flask.views import MethodView
from flask_smorest import Blueprint

from app.web.access import bearer, triage

health = Blueprint("health", __name__, description="Liveness and readiness")


@health.route("/healthz")
class Healthz(MethodView):
    @health.response(200)
    @health.doc(security=[])
    @health.doc(operationId="getHealth")
    def get(self):
        """The process is alive."""
        return {"status": "ok"}


@health.route("/readyz")
class Readyz(MethodView):
    @health.response(200)
    @health.doc(security=[])
    @health.doc(operationId="getReadiness")
    def get(self):
        """Ready or not, and why in a word. With an ops or admin token: the rules in force and any
        refused change, the model, the database and the spool."""
        principal = bearer()
        return triage().readiness(detailed=principal is not None and principal.may(("ops",)))
