"""Stored decisions, engineers' corrections and exports."""

import threading
from datetime import UTC, datetime

from flask import Response, current_app, g
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
        return triage().store.find(**query, summary=True)


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


EXPORT_RETRY_AFTER = 30  # seconds a client waits when this worker's export slots are all taken


def _export_budget() -> exports.Budget:
    """This process's exports together (EXPORTS at once, EXPORT_ROWS_PER_SECOND between them)."""
    budget = current_app.extensions.get("export_budget")
    if budget is None:
        config = current_app.config
        budget = current_app.extensions.setdefault(
            "export_budget", exports.Budget(config["EXPORTS"], config["EXPORT_ROWS_PER_SECOND"])
        )
    return budget


@decisions.route("/v1/exports/decisions")
class Export(MethodView):
    @requires("analyst")
    @decisions.arguments(s.ExportQuerySchema, location="query")
    @decisions.response(
        200,
        {"type": "string"},
        content_type="text/csv",
        description="One decision a row, with the latest correction; streamed, as an attachment",
    )
    @decisions.alt_response(
        200, schema={"type": "string"}, content_type="application/jsonl", success=True, description="format=jsonl"
    )
    @decisions.alt_response(
        503,
        description="The worker streams as many exports as it may, or the database did not answer in time; "
        "try again after Retry-After seconds",
    )
    @decisions.doc(operationId="exportDecisions")
    def get(self, query):
        """Decisions for analysts: the case, the assigned and the corrected severity and pool, oldest
        first, decided in [since, until). Streamed as it is read: a worker streams at most EXPORTS at
        once (more get 503 with Retry-After), so its other threads keep serving intake. CSV cells that
        a spreadsheet would read as a formula start with a single quote."""
        budget = _export_budget()
        slots = budget.slots
        if not slots.acquire(blocking=False):
            abort(
                503,
                message="Every export slot of this worker is busy; try again after Retry-After seconds.",
                headers={"Retry-After": str(EXPORT_RETRY_AFTER)},
            )
        released = threading.Event()

        def release():
            if not released.is_set():
                released.set()
                slots.release()

        fmt = query["format"]
        try:
            chunks = exports.stream(triage().store.engine, fmt, query.get("since"), query.get("until"), budget)
            first = next(chunks, b"")  # the query has started (or failed: then it answers 503, not a cut body)
        except BaseException:
            release()
            raise

        def finish():
            try:
                chunks.close()  # the connection goes back (or, cut short, is dropped)
            finally:
                release()

        def body():
            try:
                if first:
                    yield first
                yield from chunks
            finally:
                finish()

        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
        response = Response(body(), content_type=exports.MEDIA[fmt])
        response.headers["Content-Disposition"] = f'attachment; filename="decisions-{stamp}.{fmt}"'
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.call_on_close(finish)
        return response
