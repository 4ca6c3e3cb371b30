"""Liveness and readiness (public)."""

from flask.views import MethodView
from flask_smorest import Blueprint

from app.web.access import triage

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
        """Rules loaded and their versions, the database, and how many decisions wait in the spool."""
        return triage().readiness()
