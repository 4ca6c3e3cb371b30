"""The API as a contract: the OpenAPI document is complete (operation ids, types, errors), real answers
fit it, it changes only on purpose (a committed snapshot), and a client generated from it is typed
well enough for `mypy --strict` and works against the real server."""

import json
import os
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
import requests
from openapi_core import OpenAPI
from openapi_core.contrib.requests import RequestsOpenAPIRequest, RequestsOpenAPIResponse

from app.decide.contract import CaseSchema

from .conftest import case
from .test_e2e import make_token, start_gunicorn

SNAPSHOT = Path(__file__).parent / "openapi.json"
BIN = Path(sys.executable).parent
METHODS = ("get", "post", "put", "patch", "delete")


@pytest.fixture(scope="module")
def document(app):
    return app.test_client().get("/openapi.json").get_json()


def operations(document):
    for path, items in document["paths"].items():
        for method, operation in items.items():
            if method in METHODS:
                yield path, method, operation


def _resolve(document, node):
    while "$ref" in node:
        section, name = node["$ref"].split("/")[-2:]
        node = document["components"][section][name]
    return node


def test_every_operation_has_an_id_a_tag_and_declares_its_errors(document):
    seen = set()
    for path, method, operation in operations(document):
        where = f"{method.upper()} {path}"
        assert operation.get("operationId") and operation["operationId"] not in seen, where
        seen.add(operation["operationId"])
        assert operation.get("tags"), where
        for code, response in operation["responses"].items():
            if code[0] in "45" or code == "default":
                content = _resolve(document, response).get("content", {})
                assert content.get("application/json", {}).get("schema"), f"{where} {code} has no schema"
        if operation.get("security") != []:
            assert {"401", "403"} <= set(operation["responses"]), where
            assert "WWW-Authenticate" in operation["responses"]["401"]["headers"], where
        if "requestBody" in operation:
            assert {"400", "413", "415", "422"} <= set(operation["responses"]), where


def test_every_property_has_a_type(document):
    def typed(node):
        return "type" in node or "$ref" in node or "anyOf" in node or "allOf" in node

    for name, schema in document["components"]["schemas"].items():
        for prop, node in schema.get("properties", {}).items():
            assert typed(node), f"{name}.{prop} has no type"
            if node.get("type") == "array":
                assert typed(node["items"]), f"{name}.{prop}[] has no type"
    instants = [
        (name, prop)
        for name, schema in document["components"]["schemas"].items()
        for prop, node in schema.get("properties", {}).items()
        if prop.endswith("_at")
        and node.get("format") != "date-time"
        and not any(alternative.get("format") == "date-time" for alternative in node.get("anyOf", []))
    ]
    assert instants == [], "an instant is a date-time string, in and out"
    decision = document["components"]["schemas"]["Decision"]
    assert decision["properties"]["reported_at"]["format"] == "date-time"
    assert set(decision["required"]) >= {"decision_id", "severity", "routing", "sla", "reported_at", "decided_at"}
    assert document["components"]["schemas"]["Routing"]["properties"]["pool"]["type"] == "string"


def test_headers_and_content_types_are_declared(document):
    paths = document["paths"]
    [if_match] = [p for p in paths["/v1/rules/{name}"]["put"]["parameters"] if p["in"] == "header"]
    assert if_match["name"] == "If-Match" and if_match["required"]
    assert "ETag" in paths["/v1/rules/{name}"]["get"]["responses"]["200"]["headers"]
    assert set(paths["/v1/exports/decisions"]["get"]["responses"]["200"]["content"]) == {"text/csv", "application/jsonl"}
    answer = document["components"]["schemas"]["StoredDecision"]["properties"]["answer"]
    assert answer["$ref"] == "#/components/schemas/Decision"


def test_info_version_is_the_package_version(document):
    from importlib.metadata import version

    assert document["info"]["version"] == version("triage")


def test_the_document_changes_only_on_purpose(document):
    """A removed or retyped field fails here until the snapshot is updated on purpose
    (`make openapi`), and the README's API changelog says what changed."""
    snapshot = json.loads(SNAPSHOT.read_text(encoding="utf-8"))
    lost = []
    for name, schema in snapshot["components"]["schemas"].items():
        now = document["components"]["schemas"].get(name)
        if now is None:
            lost.append(f"schema {name} removed")
            continue
        for prop, node in schema.get("properties", {}).items():
            if prop not in now.get("properties", {}):
                lost.append(f"{name}.{prop} removed")
            elif now["properties"][prop] != node:
                lost.append(f"{name}.{prop} changed: {node} -> {now['properties'][prop]}")
    for path, method, _ in operations(snapshot):
        if method not in document["paths"].get(path, {}):
            lost.append(f"{method.upper()} {path} removed")
    assert lost == [], "the API changed; if on purpose, run `make openapi` and note it in the README's API changelog"
    assert document == snapshot, "the API grew; run `make openapi` to take the additions into the snapshot"


# -- real answers fit the document --------------------------------------------------------------


def test_the_classify_example_is_a_real_answer_that_fits(document):
    from app.web.classify import EXAMPLE

    assert CaseSchema(clock=None).load(EXAMPLE["request"]).case_id == EXAMPLE["request"]["case_id"]
    operation = document["paths"]["/v1/classify"]["post"]
    assert operation["requestBody"]["content"]["application/json"]["example"] == EXAMPLE["request"]
    assert operation["responses"]["200"]["content"]["application/json"]["example"] == EXAMPLE["response"]
    spec = OpenAPI.from_dict(document)
    validator = spec.validate_response  # checks the example as if the server had sent it
    request = requests.Request("POST", "http://triage/v1/classify", json=EXAMPLE["request"]).prepare()
    response = requests.Response()
    response.status_code, response._content = 200, json.dumps(EXAMPLE["response"]).encode()
    response.headers["Content-Type"] = "application/json"
    validator(RequestsOpenAPIRequest(request), RequestsOpenAPIResponse(response))


def test_real_answers_fit_the_document(tmp_path):
    """Each operation answered by the real server (gunicorn), checked against the document."""
    env = {"TRIAGE_INSTANCE_DIR": str(tmp_path / "instance"), "TRIAGE_SCHEDULER_INTERVAL": "0"}
    token = make_token(env)
    with open(tmp_path / "gunicorn.log", "w+") as log:
        process, base = start_gunicorn(env, log)
        try:
            spec = OpenAPI.from_dict(requests.get(f"{base}/openapi.json", timeout=10).json())
            http = requests.Session()
            http.headers["Authorization"] = f"Bearer {token}"
            calls = [
                ("POST", "/v1/classify", case(case_id="FIT-1")),
                ("POST", "/v1/classify", case(subject="", customer={"id": "x", "plan": "gold", "country": "XX"})),
                ("POST", "/v1/cases/FIT-1/events", {"type": "acknowledged"}),
                ("POST", "/v1/cases/FIT-1/events", {"type": "acknowledged"}),
                ("GET", "/v1/cases/FIT-1", None),
                ("GET", "/v1/cases/nope", None),
                ("GET", "/v1/cases?state=acknowledged", None),
                ("GET", "/v1/reports/sla?period=2026-11", None),
                ("GET", "/v1/decisions", None),
                ("GET", "/v1/pools", None),
                ("GET", "/v1/coverage", None),
                ("GET", "/v1/tokens", None),
                ("GET", "/v1/rules", None),
                ("POST", "/v1/rules/severity/validate", {"content": "levels: {}"}),
                ("GET", "/healthz", None),
            ]
            for method, path, body in calls:
                reply = http.request(method, f"{base}{path}", json=body, timeout=30)
                spec.validate_response(RequestsOpenAPIRequest(reply.request), RequestsOpenAPIResponse(reply))
            decision_id = http.get(f"{base}/v1/decisions", timeout=10).json()["items"][0]["decision_id"]
            reply = http.get(f"{base}/v1/decisions/{decision_id}", timeout=10)
            spec.validate_response(RequestsOpenAPIRequest(reply.request), RequestsOpenAPIResponse(reply))
            anonymous = requests.post(f"{base}/v1/classify", json=case(), timeout=10)
            assert anonymous.status_code == 401
            spec.validate_response(RequestsOpenAPIRequest(anonymous.request), RequestsOpenAPIResponse(anonymous))
        finally:
            process.terminate()
            process.wait(timeout=30)


# -- a generated client ---------------------------------------------------------------------------

INTAKE = textwrap.dedent(
    '''
    """A typed intake form's calls, through the client generated from /openapi.json."""

    import datetime
    import sys

    from triage_client import AuthenticatedClient
    from triage_client.api.classify import classify_case
    from triage_client.api.rule_documents import get_rule_document, publish_rule_document
    from triage_client.models import Case, Customer, CustomerPlan, Decision, Error, Publish, RuleDocument, RuleVersion


    def main(base_url: str, token: str) -> None:
        client = AuthenticatedClient(base_url=base_url, token=token)
        customer = Customer(id="generated-client", plan=CustomerPlan.PREMIUM, country="DE")
        body = Case(subject="Production down", description="Production is down for all users.", customer=customer)
        decision = classify_case.sync(client=client, body=body)
        assert isinstance(decision, Decision), decision
        pool: str = decision.routing.pool
        due: datetime.datetime = decision.sla.due_at
        level: int = decision.severity.level
        print(f"pool {pool}, due {due.isoformat()}, severity {level}")

        wrong = Customer(id="generated-client", plan=CustomerPlan.PREMIUM, country="XX")
        refused = classify_case.sync_detailed(client=client, body=Case(subject="x", description="y", customer=wrong))
        assert refused.status_code == 422 and isinstance(refused.parsed, Error), refused
        fields: list[str] = list(refused.parsed.errors.additional_properties)
        assert "customer.country" in fields, fields
        print(f"422 names {fields}")

        current = get_rule_document.sync_detailed(client=client, name="severity")
        document = current.parsed
        assert isinstance(document, RuleDocument), current
        etag: str = current.headers["ETag"]
        content = document.content + "\\n# reviewed by the intake team\\n"
        published = publish_rule_document.sync(
            client=client, name="severity", body=Publish(content=content, comment="from the generated client"), if_match=etag
        )
        assert isinstance(published, RuleVersion), published
        number: int = published.version
        print(f"published severity version {number}")


    if __name__ == "__main__":
        main(sys.argv[1], sys.argv[2])
    '''
)


@pytest.mark.skipif(
    not os.environ.get("TRIAGE_TEST_DATABASE_URL"), reason="publishing needs TRIAGE_TEST_DATABASE_URL (PostgreSQL)"
)
def test_a_generated_client_type_checks_strictly_and_works(tmp_path):
    from app.store import database

    from .conftest import fresh_postgres

    url, drop = fresh_postgres()
    database.upgrade(url)
    env = {
        "TRIAGE_INSTANCE_DIR": str(tmp_path / "instance"),
        "TRIAGE_DATABASE_URL": url,
        "TRIAGE_RULES_SOURCE": "database",
        "TRIAGE_SCHEDULER_INTERVAL": "0",
    }
    token = make_token(env)
    log = open(tmp_path / "gunicorn.log", "w+")
    process, base = start_gunicorn(env, log)
    try:
        (tmp_path / "openapi.json").write_text(requests.get(f"{base}/openapi.json", timeout=10).text, encoding="utf-8")
        (tmp_path / "config.yaml").write_text("post_hooks: []\n", encoding="utf-8")
        generated = subprocess.run(
            [str(BIN / "openapi-python-client"), "generate", "--path", "openapi.json", "--meta", "none"]
            + ["--output-path", "triage_client", "--config", "config.yaml"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert generated.returncode == 0, generated.stdout + generated.stderr
        assert "Warning" not in generated.stdout, generated.stdout
        (tmp_path / "intake.py").write_text(INTAKE, encoding="utf-8")
        checked = subprocess.run(
            [str(BIN / "mypy"), "--strict", "--follow-imports=silent", "intake.py"],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            timeout=300,
        )
        assert checked.returncode == 0, checked.stdout
        ran = subprocess.run(
            [sys.executable, "intake.py", base, token], cwd=tmp_path, capture_output=True, text=True, timeout=120
        )
        assert ran.returncode == 0, ran.stdout + ran.stderr
        assert "422 names" in ran.stdout and "published severity version 2" in ran.stdout, ran.stdout
    finally:
        process.terminate()
        process.wait(timeout=30)
        log.close()
        drop()
        shutil.rmtree(tmp_path / "triage_client", ignore_errors=True)
