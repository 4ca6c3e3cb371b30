"""The intake: classify a case."""

import json
from importlib.resources import files

from flask import g, request
from flask.views import MethodView
from flask_smorest import Blueprint, abort

from app.decide.contract import CaseSchema, DecisionSchema
from app.lifecycle.casebook import CaseConflict
from app.web.access import json_only, now, requires, triage

# A real request and its answer (tests/test_contract.py checks it still fits the schemas).
EXAMPLE = json.loads((files("app.web") / "examples" / "classify.json").read_text(encoding="utf-8"))

classify = Blueprint("classify", __name__, description="Classify support cases")
classify.before_request(json_only)


@classify.route("/v1/classify")
class Classify(MethodView):
    @requires("intake")
    @classify.arguments(CaseSchema, example=EXAMPLE["request"])
    @classify.response(200, DecisionSchema, example=EXAMPLE["response"])
    @classify.alt_response(400, description="The body is not valid JSON")
    @classify.alt_response(413, description="The body is larger than allowed")
    @classify.alt_response(409, description="The case_id belongs to another customer's case")
    @classify.alt_response(415, description="The body is not JSON")
    @classify.alt_response(422, description="Invalid fields, each named in errors")
    @classify.doc(operationId="classifyCase")
    def post(self, case):
        """Decide a case's severity, deadline and pool, explain why, and keep the decision on its case
        (a case_id is assigned when none is sent; sending it again adds a decision to the same case)."""
        try:
            return triage().classify_and_record(case, request.get_json(), now(), g.principal)
        except CaseConflict as exc:
            abort(409, message=str(exc))
