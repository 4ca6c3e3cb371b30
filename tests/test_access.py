"""Who may call what: every endpoint against every role, and without a token."""

import uuid

import pytest

from .conftest import case

ROLES = ("intake", "engineer", "ops", "analyst", "admin")


@pytest.fixture(scope="module")
def decision_id(app, tokens):
    client = app.test_client()
    reply = client.post("/v1/classify", json=case(case_id=CASE), headers={"Authorization": f"Bearer {tokens['intake']}"})
    return reply.get_json()["decision_id"]


CASE = "ACCESS-1"


def endpoints(decision_id):
    """(method, path, body, roles allowed besides admin, status when allowed)."""
    return [
        ("POST", "/v1/classify", case(), {"intake"}, 200),
        ("GET", "/v1/decisions", None, {"engineer", "analyst"}, 200),
        ("GET", f"/v1/decisions/{decision_id}", None, {"engineer", "analyst"}, 200),
        ("POST", f"/v1/decisions/{decision_id}/feedback", {"comment": "checked"}, {"engineer"}, 201),
        ("GET", "/v1/exports/decisions", None, {"analyst"}, 200),
        ("GET", "/v1/pools", None, {"ops", "engineer"}, 200),
        ("GET", "/v1/coverage", None, {"ops", "engineer"}, 200),
        ("POST", f"/v1/cases/{CASE}/events", {"type": "escalated", "tier": "EE"}, {"engineer", "ops"}, 201),
        ("GET", f"/v1/cases/{CASE}", None, {"engineer", "ops", "analyst"}, 200),
        ("GET", "/v1/cases", None, {"engineer", "ops", "analyst"}, 200),
        ("GET", "/v1/reports/sla?period=2026-11", None, {"ops", "analyst"}, 200),
        # this app reads its rules from files: the imported versions can be read, not published over
        ("GET", "/v1/rules", None, {"ops"}, 200),
        ("GET", "/v1/rules/severity", None, {"ops"}, 200),
        ("PUT", "/v1/rules/severity", {"content": "x: 1"}, {"ops"}, 409),
        ("GET", "/v1/rules/severity/versions", None, {"ops"}, 200),
        ("POST", "/v1/rules/severity/validate", {"content": "x: 1"}, {"ops"}, 200),
        ("POST", "/v1/rules/severity/rollback", {"version": 1}, {"ops"}, 409),
        ("POST", "/v1/rules/severity/backtest", {"content": "x: 1"}, {"ops"}, 422),
        ("GET", "/v1/tokens", None, set(), 200),
        ("POST", "/v1/tokens", {"name": "made in the matrix", "role": "intake"}, set(), 201),
        ("DELETE", f"/v1/tokens/{uuid.uuid4().hex[:8]}", None, set(), 404),  # allowed, but no such token
    ]


def test_role_matrix(app, tokens, decision_id):
    client = app.test_client()
    checked = 0
    for method, path, body, allowed, status in endpoints(decision_id):
        reply = client.open(path, method=method, json=body)
        assert reply.status_code == 401, (method, path, "no token")
        assert reply.headers["WWW-Authenticate"] == "Bearer"
        bad = client.open(path, method=method, json=body, headers={"Authorization": "Bearer trg_00000000_forged"})
        assert bad.status_code == 401, (method, path, "forged token")
        for role in ROLES:
            reply = client.open(path, method=method, json=body, headers={"Authorization": f"Bearer {tokens[role]}"})
            expected = status if role in allowed or role == "admin" else 403
            assert reply.status_code == expected, (method, path, role, reply.get_json())
            checked += 1
    assert checked == len(endpoints(decision_id)) * len(ROLES)


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/openapi.json"])
def test_public_endpoints_need_no_token(app, path):
    assert app.test_client().get(path).status_code == 200


def test_every_api_endpoint_is_in_the_matrix_or_public(app, decision_id):
    from app.web.access import PUBLIC

    covered = {(method, path.replace(decision_id, "<decision_id>")) for method, path, *_ in endpoints(decision_id)}
    covered = {(m, p if not p.startswith("/v1/tokens/") else "/v1/tokens/<token_id>") for m, p in covered}
    covered = {(m, p.replace("/v1/rules/severity", "/v1/rules/<name>").replace(CASE, "<case_id>")) for m, p in covered}
    covered = {(m, p.split("?")[0]) for m, p in covered}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in PUBLIC or rule.endpoint == "static" or rule.rule.startswith("/openapi"):
            continue
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            assert (method, rule.rule) in covered, f"{method} {rule.rule} is in no role matrix"


def test_openapi_declares_bearer_security(app):
    spec = app.test_client().get("/openapi.json").get_json()
    assert spec["components"]["securitySchemes"]["bearerAuth"] == {"type": "http", "scheme": "bearer"}
    assert spec["security"] == [{"bearerAuth": []}]
    assert spec["paths"]["/healthz"]["get"]["security"] == []
