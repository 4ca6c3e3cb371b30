"""Hardening (issue 14): no bad input reaches a 500. Schema-valid strings and instants the service cannot
keep, bodies past their limit, JSON that is ambiguous or too deep, a spoofed author, files others may
read, the last admin token, HEAD, and the rule documents' own body limit."""

import http.client
import io
import json
import os
import stat
import subprocess
from urllib.parse import urlsplit

import pytest
import requests

from app import create_app
from app.settings import DEFAULTS

from .conftest import DATABASES, RULES, authed, case, fresh_postgres
from .test_e2e import BIN, ROOT, start_gunicorn

LIMIT = DEFAULTS["MAX_CONTENT_LENGTH"]


def _error(reply, status: int) -> dict:
    assert reply.status_code == status, (reply.status_code, reply.get_data(as_text=True)[:500])
    body = reply.get_json()
    assert set(body) == {"code", "status", "message", "errors"} and body["code"] == status and body["message"]
    return body


@pytest.fixture(params=DATABASES)
def fresh(request, tmp_path):
    """An app of its own on a fresh store (SQLite, and a fresh PostgreSQL database when configured), its
    rules in the store, with one admin token: (app, admin client, admin token id, CLI environment)."""
    url, drop = ("", None) if request.param == "sqlite" else fresh_postgres()
    if url:
        from app.store import database as store

        store.upgrade(url)
    instance = tmp_path / "instance"
    app = create_app({"INSTANCE_DIR": str(instance), "DATABASE_URL": url, "RULES_SOURCE": "database", "SCHEDULER_INTERVAL": 0})
    record, token = app.extensions["triage"].tokens.create("the only admin", "admin")
    admin = app.test_client()
    admin.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    yield app, admin, record["id"], {"TRIAGE_INSTANCE_DIR": str(instance), "TRIAGE_DATABASE_URL": url}
    app.extensions["triage"].stop()
    app.extensions["triage"].store.engine.dispose()
    if drop:
        drop()


# -- 5. schema-valid inputs that gave 500 -------------------------------------------------------


@pytest.mark.parametrize(
    "change, field",
    [
        ({"subject": "\ud800"}, "subject"),
        ({"description": "before \udfff after"}, "description"),
        ({"customer": {"id": "\ud800", "plan": "premium", "country": "DE"}}, "customer.id"),
        ({"customer": {"id": "acme\x00", "plan": "premium", "country": "DE"}}, "customer.id"),  # PostgreSQL refused the row
        ({"description": "a\x00b"}, "description"),
        ({"subject": "bell \x07"}, "subject"),
        ({"description": "escape \x1b[31m"}, "description"),
        ({"case_id": "T-1\t2"}, "case_id"),  # one line: not even a tab
        ({"product_area": "billing\n"}, "product_area"),
    ],
)
def test_lone_surrogates_and_control_characters_are_refused_naming_the_field(client, change, field):
    body = _error(client.post("/v1/classify", json=case(**change)), 422)
    assert list(body["errors"]) == [field]
    assert "surrogate" in body["errors"][field][0] or "control characters" in body["errors"][field][0]


def test_free_text_keeps_tabs_newlines_and_carriage_returns(client):
    reply = client.post("/v1/classify", json=case(description="Production is down.\r\n\tNobody can log in.\n"))
    assert reply.status_code == 200, reply.get_json()


def test_every_input_schema_shares_the_check(client, tokens, app):
    """Bodies and query values of the other endpoints refuse the same characters, with the same words."""
    engineer = app.test_client()
    engineer.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {tokens['engineer']}"
    decision = client.post("/v1/classify", json=case()).get_json()
    url = f"/v1/decisions/{decision['decision_id']}/feedback"
    assert list(_error(engineer.post(url, json={"comment": "x\x00"}), 422)["errors"]) == ["comment"]
    assert list(_error(client.post("/v1/tokens", json={"name": "n\ud800", "role": "intake"}), 422)["errors"]) == ["name"]
    assert list(_error(client.get("/v1/decisions", query_string={"customer": "c\x00"}), 422)["errors"]) == ["customer"]
    assert list(_error(client.get("/v1/cases", query_string={"pool": "p\x00"}), 422)["errors"]) == ["pool"]
    event = {"type": "severity_changed", "level": 2, "reason": "worse\x00"}
    assert list(_error(client.post(f"/v1/cases/{decision['case_id']}/events", json=event), 422)["errors"]) == ["reason"]


def test_a_path_value_with_a_control_character_is_404(client):
    """PostgreSQL refuses NUL in a query, and a spooled event on such a case could never be written."""
    _error(client.get("/v1/decisions/%00"), 404)
    _error(client.post("/v1/cases/%00/events", json={"type": "acknowledged"}), 404)
    _error(client.delete("/v1/tokens/%00"), 404)


def test_ten_thousand_nested_arrays_are_a_clean_400(client):
    body = _error(client.post("/v1/classify", data="[" * 10_000 + "]" * 10_000, content_type="application/json"), 400)
    assert "nest more than 32 levels" in body["errors"]["_body"][0]
    deep = {"subject": "x", "description": "y", "customer": {"id": "c", "plan": "premium", "country": "DE"}, "case_id": []}
    inner = deep["case_id"]
    for _ in range(40):
        inner.append([])
        inner = inner[0]
    _error(client.post("/v1/classify", json=deep), 400)


@pytest.mark.parametrize(
    "path, query, field",
    [
        ("/v1/coverage", {"at": "9999-12-31T23:59:59+00:00"}, "at"),
        ("/v1/coverage", {"at": "0001-01-01T00:00:00+00:00"}, "at"),
        ("/v1/decisions", {"since": "0001-01-01T00:00:00+05:00"}, "since"),
        ("/v1/decisions", {"until": "9999-12-31T23:59:59-05:00"}, "until"),
        ("/v1/exports/decisions", {"since": "9999-01-01T00:00:00+00:00"}, "since"),
        ("/v1/cases", {"since": "1999-12-31T23:59:59+00:00"}, "since"),
    ],
)
def test_instants_outside_2000_to_2100_are_refused_in_queries(client, path, query, field):
    assert list(_error(client.get(path, query_string=query), 422)["errors"]) == [field]


@pytest.mark.parametrize("instant", ["0001-01-01T00:00:00+00:00", "9999-12-31T23:59:59+00:00", "0001-01-01T00:00:00+05:00"])
@pytest.mark.parametrize("plan", ["basic", "premium"])
def test_reported_at_outside_2000_to_2100_is_refused_naming_the_field(client, instant, plan):
    body = case(reported_at=instant, customer={"id": "c-overflow", "plan": plan, "country": "DE"})
    assert list(_error(client.post("/v1/classify", json=body), 422)["errors"]) == ["reported_at"]


def test_the_edges_of_the_window_are_accepted(client):
    assert client.get("/v1/coverage", query_string={"at": "2000-01-01T00:00:00+00:00"}).status_code == 200
    assert client.get("/v1/coverage", query_string={"at": "2100-12-31T23:59:59+00:00"}).status_code == 200


def test_a_rollback_to_a_version_beyond_32_bits_is_422(fresh):
    _, admin, _, _ = fresh
    body = _error(admin.post("/v1/rules/severity/rollback", json={"version": 2_147_483_648}), 422)
    assert list(body["errors"]) == ["version"]
    _error(admin.post("/v1/rules/severity/rollback", json={"version": 2_147_483_647}), 404)  # in range, no such version


# -- 6. bodies --------------------------------------------------------------------------------


def _chunked(client, path: str, data: bytes):
    """A chunked body (no Content-Length), as a server that de-chunks it hands it on (wsgi.input_terminated)."""
    return client.post(
        path,
        input_stream=io.BytesIO(data),
        content_type="application/json",
        headers={"Transfer-Encoding": "chunked"},
        environ_overrides={"wsgi.input_terminated": True},
    )


def test_a_chunked_body_over_the_limit_is_413(client):
    body = json.dumps(case(description="x" * (LIMIT + 10))).encode()
    assert "larger than allowed" in _error(_chunked(client, "/v1/classify", body), 413)["message"]
    assert _chunked(client, "/v1/classify", json.dumps(case()).encode()).status_code == 200


def test_valid_json_then_junk_past_the_limit_is_refused_never_cut(client):
    valid = json.dumps(case()).encode()
    _error(_chunked(client, "/v1/classify", valid + b" " * LIMIT + b"junk"), 413)
    _error(_chunked(client, "/v1/classify", valid + b" " * (LIMIT - len(valid) + 1)), 413)  # one byte over
    assert _chunked(client, "/v1/classify", valid + b" " * (LIMIT - len(valid))).status_code == 200  # at the limit


@pytest.mark.parametrize(
    "raw, key",
    [
        (
            b'{"subject":"a","description":"b","customer":{"id":"c","plan":"bogus","plan":"premium","country":"DE"}}',
            "customer.plan",
        ),
        (b'{"subject":"a","subject":"b","description":"b","customer":{"id":"c","plan":"premium","country":"DE"}}', "subject"),
    ],
)
def test_duplicate_keys_are_refused_naming_the_key(client, raw, key):
    body = _error(client.post("/v1/classify", data=raw, content_type="application/json"), 400)
    assert list(body["errors"]) == [key] and "more than once" in body["message"]


def test_nan_is_not_json(client):
    _error(client.post("/v1/classify", data=b'{"declared_severity": NaN}', content_type="application/json"), 400)


def test_bodies_over_the_limit_are_answered_413_over_http(tmp_path):
    """The real server: a 10 MB body with Content-Length is answered (read to its end, so even a client
    that reads nothing before it has sent everything sees the 413), and a chunked body is refused at the
    limit, not cut there."""
    from .test_e2e import make_token

    env = {"TRIAGE_INSTANCE_DIR": str(tmp_path / "instance")}
    token = make_token(env)
    with open(tmp_path / "gunicorn.log", "w+") as log:
        process, base = start_gunicorn(env, log)
        try:
            headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
            where = urlsplit(base)
            for _ in range(3):
                connection = http.client.HTTPConnection(where.hostname, where.port, timeout=60)
                connection.request("POST", "/v1/classify", body=b"x" * 10_000_000, headers=headers)
                reply = connection.getresponse()
                assert reply.status == 413 and json.loads(reply.read())["code"] == 413
                connection.close()
            assert requests.post(f"{base}/v1/classify", data=b"x" * 10_000_000, headers=headers, timeout=60).status_code == 413

            valid = json.dumps(case()).encode()

            def chunks(*parts):
                yield from parts

            padded = chunks(valid, *[b" " * 4096] * 20, b"junk")
            assert requests.post(f"{base}/v1/classify", data=padded, headers=headers, timeout=60).status_code == 413
            big = json.dumps(case(description="x" * 70_000)).encode()
            over = chunks(*[big[i : i + 8192] for i in range(0, len(big), 8192)])
            reply = requests.post(f"{base}/v1/classify", data=over, headers=headers, timeout=60)
            assert reply.status_code == 413, reply.text
            assert requests.post(f"{base}/v1/classify", data=chunks(valid), headers=headers, timeout=60).status_code == 200
        finally:
            process.terminate()
            process.wait(timeout=30)


# -- 7. the author of a correction ------------------------------------------------------------


def test_the_author_of_feedback_is_the_token_never_the_body(client, tokens, app):
    decision = client.post("/v1/classify", json=case()).get_json()
    url = f"/v1/decisions/{decision['decision_id']}/feedback"
    engineer = app.test_client()
    engineer.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {tokens['engineer']}"
    spoofed = _error(engineer.post(url, json={"severity": 2, "by": "ops-lead-alice"}), 422)
    assert spoofed["errors"] == {"by": ["Unknown field."]}
    reply = engineer.post(url, json={"severity": 2})
    assert reply.status_code == 201 and reply.get_json()["by"] == "test engineer"
    stored = client.get(f"/v1/decisions/{decision['decision_id']}").get_json()
    assert [f["by"] for f in stored["feedback"]] == ["test engineer"]


# -- 9. small ones ----------------------------------------------------------------------------


def _mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_the_token_copy_and_the_database_are_private(tmp_path):
    app = create_app({"INSTANCE_DIR": str(tmp_path / "instance"), "SCHEDULER_INTERVAL": 0})
    try:
        app.extensions["triage"].tokens.create("someone", "intake")  # writes the token copy
        assert _mode(tmp_path / "instance" / "tokens.json") == 0o600
        assert _mode(tmp_path / "instance" / "triage.db") == 0o600
    finally:
        app.extensions["triage"].stop()
        app.extensions["triage"].store.engine.dispose()


def test_files_left_readable_by_an_earlier_version_are_made_private(tmp_path):
    instance = tmp_path / "instance"
    first = create_app({"INSTANCE_DIR": str(instance), "SCHEDULER_INTERVAL": 0})
    first.extensions["triage"].tokens.create("someone", "intake")
    first.extensions["triage"].stop()
    first.extensions["triage"].store.engine.dispose()
    for name in ("tokens.json", "triage.db"):
        os.chmod(instance / name, 0o644)
    again = create_app({"INSTANCE_DIR": str(instance), "SCHEDULER_INTERVAL": 0})
    try:
        assert _mode(instance / "tokens.json") == 0o600 and _mode(instance / "triage.db") == 0o600
    finally:
        again.extensions["triage"].stop()
        again.extensions["triage"].store.engine.dispose()


def test_the_last_active_admin_token_cannot_be_revoked(fresh):
    app, admin, only_id, env = fresh
    for other in [t for t in app.extensions["triage"].store.tokens(include_revoked=False) if t["id"] != only_id]:
        assert admin.delete(f"/v1/tokens/{other['id']}").status_code == 204  # none, on a fresh store
    refused = _error(admin.delete(f"/v1/tokens/{only_id}"), 409)
    assert "last active admin token" in refused["message"]
    assert admin.get("/v1/tokens").status_code == 200  # still in force
    done = subprocess.run(
        [str(BIN / "triage"), "tokens", "revoke", only_id],
        env={**os.environ, **env},
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1 and "last active admin token" in done.stderr, (done.stdout, done.stderr)
    second = admin.post("/v1/tokens", json={"name": "second admin", "role": "admin"}).get_json()
    assert admin.delete(f"/v1/tokens/{only_id}").status_code == 204  # another admin is left
    app.extensions["triage"].tokens.refresh()
    successor = app.test_client()
    successor.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {second['token']}"
    assert "last active admin token" in _error(successor.delete(f"/v1/tokens/{second['id']}"), 409)["message"]
    intake = successor.post("/v1/tokens", json={"name": "form", "role": "intake"}).get_json()
    assert successor.delete(f"/v1/tokens/{intake['id']}").status_code == 204  # other roles: as before


def test_head_answers_like_get_without_a_body(client, app, tokens):
    for path in ("/v1/pools", "/v1/coverage?at=2026-03-09T10:00:00%2B03:00", "/v1/decisions"):
        got, head = client.get(path), client.head(path)
        assert head.status_code == got.status_code == 200, (path, head.status_code)
        assert head.data == b"" and head.headers["Content-Type"] == got.headers["Content-Type"]
    intake = app.test_client()
    intake.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {tokens['intake']}"
    assert intake.head("/v1/pools").status_code == intake.get("/v1/pools").status_code == 403
    assert app.test_client().head("/v1/pools").status_code == 401


def test_rule_documents_have_their_own_body_limit(client):
    """The signals document alone is about 73 KB as a JSON body: over the 64 KiB of the other endpoints."""
    signals = (RULES / "signals.yaml").read_text(encoding="utf-8")
    assert len(json.dumps({"content": signals})) > LIMIT
    reply = client.post("/v1/rules/signals/validate", json={"content": signals})
    assert reply.status_code == 200 and reply.get_json()["valid"] is True
    rules_limit = DEFAULTS["MAX_RULES_CONTENT_LENGTH"]
    too_big = {"content": signals + "\n# " + "x" * rules_limit + "\n"}
    assert str(rules_limit) in _error(client.post("/v1/rules/signals/validate", json=too_big), 413)["message"]
    _error(client.post("/v1/classify", json=case(description="x" * LIMIT)), 413)  # the others keep theirs


def test_the_rule_body_limit_is_a_setting_and_the_documented_maximum_matches(tmp_path):
    assert DEFAULTS["MAX_RULES_CONTENT_LENGTH"] == 1024 * 1024
    small = create_app({"INSTANCE_DIR": str(tmp_path), "MAX_RULES_CONTENT_LENGTH": 2000, "SCHEDULER_INTERVAL": 0})
    try:
        client = authed(small, "ops")
        _error(client.post("/v1/rules/severity/validate", json={"content": "# " + "x" * 3000}), 413)
        spec = small.test_client().get("/openapi.json").get_json()
        for operation in ("RuleContent", "Backtest"):
            content = spec["components"]["schemas"][operation]["properties"]["content"]
            assert content["maxLength"] == DEFAULTS["MAX_RULES_CONTENT_LENGTH"], operation
    finally:
        small.extensions["triage"].stop()
        small.extensions["triage"].store.engine.dispose()
