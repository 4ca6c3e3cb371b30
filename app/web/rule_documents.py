"""Versioned rule documents: validate, publish, roll back, backtest."""

from contextlib import contextmanager

from flask import g, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort

from app.manage.publishing import Busy, NotFound, PreconditionRequired, etag
from app.rulelang.documents import RulesInvalid
from app.store.database import Conflict
from app.web import schemas as s
from app.web.access import json_only, requires, triage
from app.web.openapi import RETRY_AFTER

rule_documents = Blueprint(
    "rule_documents", __name__, description="Versioned rule documents: validate, publish, roll back, backtest"
)
rule_documents.before_request(json_only)


ETAG = {"ETag": {"description": "the version, to send back as If-Match when publishing", "schema": {"type": "string"}}}
IF_MATCH = {
    "in": "header",
    "name": "If-Match",
    "required": True,
    "description": "the ETag of the version this change is based on (428 without it, 409 when stale)",
    "schema": {"type": "string"},
}


_REFUSALS = {
    404: "No such document, or no such version",
    409: "The rules come from files (TRIAGE_RULES_SOURCE=files), someone published in between (If-Match is stale), "
    "or the same change is being tried by another process",
    422: "The rules would be refused: every problem and failing golden case is listed with file, item and field",
    428: "If-Match is missing",
    429: "This worker already runs a trial or a backtest; try again after Retry-After seconds",
}


def refusals(*codes: int):
    """Document the publisher's refusals an operation can answer (see _rule_errors)."""

    def decorate(view):
        for code in codes:
            headers = RETRY_AFTER if code == 429 else None
            view = rule_documents.alt_response(code, description=_REFUSALS[code], headers=headers)(view)
        return view

    return decorate


def publisher():
    return triage().publisher


@contextmanager
def _rule_errors():
    """The publisher's refusals as HTTP answers."""
    try:
        yield
    except NotFound as exc:
        abort(404, message=str(exc))
    except (Conflict, Busy) as exc:
        abort(409, message=str(exc))
    except PreconditionRequired as exc:
        abort(428, message=str(exc))
    except RulesInvalid as exc:
        abort(
            422,
            message="the rules were refused; nothing changed",
            messages={"json": {"content": [str(p) for p in exc.problems]}},
        )


@rule_documents.route("/v1/rules")
class RuleDocuments(MethodView):
    @requires("ops")
    @rule_documents.response(200, s.RuleVersionSchema(many=True))
    @refusals(409)
    @rule_documents.doc(operationId="listRuleDocuments")
    def get(self):
        """The current version of every rule document."""
        with _rule_errors():
            return publisher().documents()


@rule_documents.route("/v1/rules/<name>")
class RuleDocument(MethodView):
    @requires("ops")
    @rule_documents.response(200, s.RuleDocumentSchema, headers=ETAG)
    @refusals(404, 409)
    @rule_documents.doc(operationId="getRuleDocument")
    def get(self, name):
        """The current version of a document, its YAML text, and its ETag."""
        with _rule_errors():
            document = publisher().document(name)
        return document, 200, {"ETag": etag(document["version"])}

    @requires("ops")
    @rule_documents.arguments(s.PublishSchema)
    @rule_documents.response(200, s.RuleVersionSchema, headers=ETAG)
    @refusals(404, 409, 422, 428, 429)
    @rule_documents.doc(operationId="publishRuleDocument", parameters=[IF_MATCH])
    def put(self, body, name):
        """Publish a new version, after a trial in a separate process (the golden cases and the worst
        cases the rules allow); it is live in every worker and instance within a few seconds."""
        with _rule_errors():
            version = publisher().publish(
                name,
                body["content"],
                body["comment"],
                g.principal.author,
                request.headers.get("If-Match"),
                body["golden"],
                body["force"],
            )
        return version, 200, {"ETag": etag(version["version"])}


@rule_documents.route("/v1/rules/<name>/versions")
class RuleHistory(MethodView):
    @requires("ops")
    @rule_documents.response(200, s.RuleVersionSchema(many=True))
    @refusals(404, 409)
    @rule_documents.doc(operationId="listRuleDocumentVersions")
    def get(self, name):
        """Every version, newest first: who changed it, when and why."""
        with _rule_errors():
            return publisher().history(name)


@rule_documents.route("/v1/rules/<name>/validate")
class RuleValidate(MethodView):
    @requires("ops")
    @rule_documents.arguments(s.RuleContentSchema)
    @rule_documents.response(200, s.ValidationReportSchema)
    @refusals(404, 429)
    @rule_documents.doc(operationId="validateRuleDocument")
    def post(self, body, name):
        """Every problem the rules would have with this content (file, item, field); nothing changes."""
        with _rule_errors():
            problems = publisher().problems(name, body["content"])
        return {"valid": not problems, "problems": [p.to_dict() for p in problems]}


@rule_documents.route("/v1/rules/<name>/rollback")
class RuleRollback(MethodView):
    @requires("ops")
    @rule_documents.arguments(s.RollbackSchema)
    @rule_documents.response(201, s.RuleVersionSchema)
    @refusals(404, 409, 422, 429)
    @rule_documents.doc(operationId="rollbackRuleDocument")
    def post(self, body, name):
        """Publish an earlier version's content again, as a new version."""
        with _rule_errors():
            return publisher().rollback(name, body["version"], body.get("comment", ""), g.principal.author)


@rule_documents.route("/v1/rules/<name>/backtest")
class RuleBacktest(MethodView):
    @requires("ops")
    @rule_documents.arguments(s.BacktestSchema)
    @rule_documents.response(200, s.BacktestReportSchema)
    @refusals(404, 409, 422, 429)
    @rule_documents.doc(operationId="backtestRuleDocument")
    def post(self, body, name):
        """Replay stored decisions at their original instants with the proposed content in place of the
        current; report every case whose severity, pool, language or deadline would change."""
        with _rule_errors():
            return publisher().backtest(name, body["content"], body["limit"], body.get("since"), body.get("until"))
