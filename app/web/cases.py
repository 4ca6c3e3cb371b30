"""Cases with a life: events on a case, one case with its clocks and timeline, the queue views, and
the SLA report with its penalties."""

from contextlib import contextmanager

from flask import g, jsonify, make_response
from flask.views import MethodView
from flask_smorest import Blueprint, abort

from app.lifecycle.casebook import CaseConflict, CaseNotFound, EventInvalid
from app.lifecycle.report import PeriodInvalid
from app.store.cases import new_event_id
from app.web import schemas as s
from app.web.access import json_only, now, requires, triage
from app.web.openapi import RETRY_AFTER

cases = Blueprint("cases", __name__, description="Cases: events, clocks, queues and the SLA report")
cases.before_request(json_only)

FUTURE_SLACK_SECONDS = 120  # an event's `at` may run this far ahead of the server's clock


@contextmanager
def _case_errors():
    try:
        yield
    except CaseNotFound as exc:
        abort(404, message=f"no case {exc}")
    except CaseConflict as exc:
        abort(409, message=str(exc))
    except EventInvalid as exc:
        abort(422, messages={"json": {exc.field: [str(exc)]}})


@cases.route("/v1/cases/<case_id>/events")
class CaseEvents(MethodView):
    @requires("engineer", "ops")
    @cases.arguments(s.CaseEventSchema)
    @cases.response(201, s.CaseViewSchema)
    @cases.alt_response(
        202, schema=s.AcceptedEventSchema, description="The database is away; the event is kept and applied when it is back"
    )
    @cases.alt_response(404, description="No such case")
    @cases.alt_response(409, description="The case's state does not allow the event; the message names the state")
    @cases.alt_response(422, description="Invalid fields, each named in errors")
    @cases.doc(operationId="recordCaseEvent")
    def post(self, body, case_id):
        """Record what happened to a case: acknowledged, severity_changed, escalated, reassigned,
        waiting_on_customer, customer_replied, resolved or reopened. The author is the token's name."""
        instant = now()
        at = body.pop("at", None) or instant
        if (at - instant).total_seconds() > FUTURE_SLACK_SECONDS:
            abort(422, messages={"json": {"at": [f"{at.isoformat()} is in the future"]}})
        kind, engineer = body.pop("type"), body.pop("engineer", None)
        event = {
            "event_id": new_event_id(),
            "type": kind,
            "at": at,
            "author": g.principal.name,
            "author_id": g.principal.token_id,
            "engineer": engineer,
            "data": body,
        }
        with _case_errors():
            view = triage().record_event(case_id, event, instant)
        if view is None:  # a response object passes flask-smorest by: the 202 is not a CaseView
            accepted = {
                "accepted": True,
                "event_id": event["event_id"],
                "message": "the database is away; it is applied when it is back",
            }
            return make_response(jsonify(s.AcceptedEventSchema().dump(accepted)), 202)
        return view


@cases.route("/v1/cases/<case_id>")
class CaseById(MethodView):
    @requires("engineer", "ops", "analyst")
    @cases.response(200, s.CaseViewSchema)
    @cases.alt_response(404, description="No such case")
    @cases.doc(operationId="getCase")
    def get(self, case_id):
        """A case: state, severity, pool and tier, its response clock, and its timeline in order."""
        with _case_errors():
            return triage().casebook.view(case_id, now())


@cases.route("/v1/cases")
class Cases(MethodView):
    @requires("engineer", "ops", "analyst")
    @cases.arguments(s.CaseQuerySchema, location="query")
    @cases.response(200, s.CasePageSchema)
    @cases.doc(operationId="listCases")
    def get(self, query):
        """The queue views: cases filtered by state, pool, customer, plan, severity, tier, at risk,
        breached and time of first report, in case-id order, a page at a time."""
        cursor, limit = query.pop("cursor", None), query.pop("limit")
        items, next_cursor = triage().casebook.find(query, now(), cursor, limit)
        return {"items": items, "next_cursor": next_cursor}


@cases.route("/v1/reports/sla")
class SlaReport(MethodView):
    @requires("ops", "analyst")
    @cases.arguments(s.SlaReportQuerySchema, location="query")
    @cases.response(200, s.SlaReportSchema)
    @cases.alt_response(422, description="`period` is not a month (2026-11) or a quarter (2026-Q4)")
    @cases.alt_response(
        429, description="This worker already makes a report; try again after Retry-After seconds", headers=RETRY_AFTER
    )
    @cases.doc(operationId="getSlaReport")
    def get(self, query):
        """Per customer: cases, responses met and missed, attainment, median and p90 response minutes,
        each miss with its lateness and penalty, and the total. Made in a process of its own, one at a
        time per worker, so that the worker's other threads keep serving intake."""
        try:
            return triage().casebook.report(query["period"], query.get("customer"), now())
        except PeriodInvalid as exc:
            abort(422, messages={"query": {"period": [str(exc)]}})
