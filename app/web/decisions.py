"""Stored decisions, engineers' corrections and exports."""

from flask import Response, g
from flask.views import MethodView
from flask_smorest import Blueprint, abort

from app.store import exports
from app.web import schemas as s
from app.web.access import json_only, requires, triage

decisions = Blueprint("decisions", __name__, description="Stored decisions and engineers' corrections")
decisions.before_request(json_only)


@decisions.route("/v1/decisions")
class Decisions(MethodView):
    @requires("engineer", "analyst")
    @decisions.arguments(s.DecisionQuerySchema, location="query")
    @decisions.response(200, s.DecisionPageSchema)
    @decisions.doc(operationId="listDecisions")
    def get(self, query):
        """Stored decisions, newest first, filtered by time, customer, severity, pool and source."""
        return triage().store.find(**query)


@decisions.route("/v1/decisions/<decision_id>")
class DecisionById(MethodView):
    @requires("engineer", "analyst")
    @decisions.response(200, s.StoredDecisionSchema)
    @decisions.alt_response(404, description="No such decision")
    @decisions.doc(operationId="getDecision")
    def get(self, decision_id):
        """One stored decision: the case as sent, the whole answer, the versions, and every correction."""
        return triage().store.get(decision_id) or abort(404, message=f"no decision {decision_id}")


@decisions.route("/v1/decisions/<decision_id>/feedback")
class Feedback(MethodView):
    @requires("engineer")
    @decisions.arguments(s.FeedbackSchema)
    @decisions.response(201, s.FeedbackRecordSchema)
    @decisions.alt_response(404, description="No such decision")
    @decisions.doc(operationId="addDecisionFeedback")
    def post(self, correction, decision_id):
        """Record an engineer's correction (its author is the token's name); it is kept as history and
        never overwrites the decision."""
        pools = triage().rulebook.get().pools
        if correction.get("pool") is not None and correction["pool"] not in pools:
            abort(422, messages={"json": {"pool": [f"no pool {correction['pool']!r}; pools are {', '.join(pools)}"]}})
        record = triage().store.add_feedback(
            decision_id,
            correction.get("severity"),
            correction.get("pool"),
            correction.get("comment"),
            g.principal.name,  # the author is the token's, never what the body says
        )
        return record or abort(404, message=f"no decision {decision_id}")


@decisions.route("/v1/exports/decisions")
class Export(MethodView):
    @requires("analyst")
    @decisions.arguments(s.ExportQuerySchema, location="query")
    @decisions.response(
        200, {"type": "string"}, content_type="text/csv", description="One decision a row, with the latest correction"
    )
    @decisions.alt_response(
        200, schema={"type": "string"}, content_type="application/jsonl", success=True, description="format=jsonl"
    )
    @decisions.doc(operationId="exportDecisions")
    def get(self, query):
        """Decisions for analysts: the case, the assigned and the corrected severity and pool."""
        body = exports.text(triage().store.export(query.get("since")), query["format"])
        kind = "text/csv" if query["format"] == "csv" else "application/jsonl"
        return Response(body, mimetype=kind)
