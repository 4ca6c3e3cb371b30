"""Every operation of /openapi.json, with requests generated from the document itself (Schemathesis: valid
and invalid bodies, queries and paths), against the service with its rules in the database: no answer is a
5xx, and every answer's status, content type, headers and body are the ones the document declares. A few
examples per operation, so the whole run stays well under a minute."""

from collections import Counter

import pytest
import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from app import create_app

from .conftest import POSTGRES

EXAMPLES = 50  # per operation and generation mode


@pytest.fixture(scope="module", params=["sqlite"] + (["postgresql"] if POSTGRES else []))
def served(request, tmp_path_factory):
    """The app with its rules in the store (TRIAGE_RULES_SOURCE=database) and an admin token."""
    from .conftest import fresh_postgres

    url, drop = ("", None) if request.param == "sqlite" else fresh_postgres()
    if url:
        from app.store import database as store

        store.upgrade(url)
    application = create_app(
        {
            "INSTANCE_DIR": str(tmp_path_factory.mktemp("schemathesis")),
            "DATABASE_URL": url,
            "RULES_SOURCE": "database",
            "SCHEDULER_INTERVAL": 0,
            "TESTING": True,
        }
    )
    token = application.extensions["triage"].tokens.create("schemathesis", "admin")[1]
    yield application, token
    application.extensions["triage"].stop()
    application.extensions["triage"].store.engine.dispose()
    if drop:
        drop()


STATUSES: Counter = Counter()  # what the run was answered, for the figures (pytest -s)


def _no_server_error(ctx, response, case):
    """No 5xx: a 500 is a bug, and nothing here makes the database go away, so neither is a 503."""
    STATUSES[response.status_code] += 1
    if response.status_code >= 500:
        raise AssertionError(f"answered {response.status_code}: {response.text[:500]}")
    return True


CHECKS = [
    _no_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


def _operations(application) -> list:
    return [result.ok() for result in schemathesis.openapi.from_wsgi("/openapi.json", application).get_all_operations()]


@pytest.mark.parametrize("mode", [GenerationMode.POSITIVE, GenerationMode.NEGATIVE], ids=["valid", "invalid"])
def test_every_operation_answers_as_documented(served, mode):
    """Each operation in turn (Schemathesis' own pytest loader does not run under this pytest); every
    failure is collected, with the request that caused it."""
    application, token = served
    operations = _operations(application)
    assert len(operations) >= 20
    failures: dict[str, str] = {}
    for operation in operations:

        @given(case=operation.as_strategy(generation_mode=mode))
        @settings(
            max_examples=EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            derandomize=True,
            database=None,
            phases=[Phase.explicit, Phase.generate],  # no shrinking: the first failing request is reported
        )
        def run(case):
            case.call_and_validate(headers={"Authorization": f"Bearer {token}"}, checks=CHECKS)

        try:
            run()
        except Unsatisfiable:  # nothing to make invalid (no parameters, no body)
            continue
        except Exception as exc:  # noqa: PERF203 - one failure per operation, all reported
            failures[operation.label] = str(exc)[:3000]
    print(f"{mode.value}: {sum(STATUSES.values())} requests, by status {dict(sorted(STATUSES.items()))}")
    STATUSES.clear()
    assert not failures, "\n\n".join(f"{label}:\n{text}" for label, text in failures.items())


def test_every_operation_declares_its_error_statuses(served):
    """401 and 403 on every protected operation, 400/413/415/422 with a body, 422 with a query, 503 with
    Retry-After wherever the database is read or written; every error with the one envelope."""
    application, _ = served
    document = application.test_client().get("/openapi.json").get_json()
    checked = 0
    for path, operations in document["paths"].items():
        for method, operation in operations.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            checked += 1
            responses, name = operation["responses"], f"{method.upper()} {path}"
            if path in ("/healthz", "/readyz", "/openapi.json"):
                continue
            declared = set(responses)
            assert {"401", "403"} <= declared, name
            assert "WWW-Authenticate" in responses["401"].get("headers", {}), name
            if "requestBody" in operation:
                assert {"400", "413", "415", "422"} <= declared, name
            if any(parameter["in"] == "query" for parameter in operation.get("parameters", [])):
                assert "422" in declared, name
            if operation["operationId"] not in ("classifyCase", "listPools", "getCoverage"):
                assert "Retry-After" in responses["503"]["headers"], name
            for code, response in responses.items():
                response = _resolved(document, response)
                if code[0] in "45":
                    assert response["content"]["application/json"]["schema"] == {"$ref": "#/components/schemas/Error"}, (
                        name,
                        code,
                    )
    assert checked >= 20


def _resolved(document: dict, response: dict) -> dict:
    if "$ref" in response:
        return document["components"]["responses"][response["$ref"].rsplit("/", 1)[1]]
    return response
