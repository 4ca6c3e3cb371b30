"""Stored decisions, feedback, export, quota and tokens, through the API (SQLite, and PostgreSQL when configured)."""

import csv
import io
import json
import uuid

from app.store import database

from .conftest import case


def customer(plan="premium"):
    return {"id": f"cust-{uuid.uuid4().hex[:8]}", "plan": plan, "country": "DE"}


def classify(client, **fields):
    reply = client.post("/v1/classify", json=case(**fields))
    assert reply.status_code == 200, reply.get_json()
    return reply.get_json()


def test_every_decision_is_stored_with_its_input_answer_and_versions(client):
    who = customer()
    body = case("Dashboard slow", "The dashboard takes 30 s to load.", customer=who, case_id="X-1")
    answer = client.post("/v1/classify", json=body).get_json()
    stored = client.get(f"/v1/decisions/{answer['decision_id']}").get_json()
    assert stored["request"] == body and stored["answer"] == answer
    assert stored["customer_id"] == who["id"] and stored["severity"] == 3 and stored["source"] == "rules"
    assert stored["pool"] == answer["routing"]["pool"] and stored["rules_version"] == answer["versions"]["rules"]
    assert stored["decided_at"] == answer["decided_at"] and stored["feedback"] == []


def test_unknown_decision_is_404(client):
    assert client.get(f"/v1/decisions/{uuid.uuid4()}").status_code == 404


def test_filters_and_cursor_pagination(client):
    who = customer()
    made = [
        classify(client, customer=who, subject=f"Slow {i}", description="The report is slow.")["decision_id"] for i in range(5)
    ]
    classify(client, customer=who, subject="Down", description="Production is down for all users.")
    page = client.get("/v1/decisions", query_string={"customer": who["id"], "severity": 3, "limit": 2}).get_json()
    seen = [item["decision_id"] for item in page["items"]]
    while page["next_cursor"]:
        page = client.get(
            "/v1/decisions", query_string={"customer": who["id"], "severity": 3, "limit": 2, "cursor": page["next_cursor"]}
        ).get_json()
        seen += [item["decision_id"] for item in page["items"]]
    assert seen == list(reversed(made))  # newest first, each once
    assert len(client.get("/v1/decisions", query_string={"customer": who["id"]}).get_json()["items"]) == 6
    ones = client.get("/v1/decisions", query_string={"customer": who["id"], "severity": 1, "source": "rules"}).get_json()
    assert len(ones["items"]) == 1
    pool = ones["items"][0]["pool"]
    assert any(
        i["decision_id"] == ones["items"][0]["decision_id"]
        for i in client.get("/v1/decisions", query_string={"customer": who["id"], "pool": pool}).get_json()["items"]
    )
    later = client.get("/v1/decisions", query_string={"customer": who["id"], "since": "2100-01-01T00:00:00+00:00"}).get_json()
    assert later["items"] == [] and later["next_cursor"] is None
    bad = client.get("/v1/decisions", query_string={"severity": 9, "since": "yesterday"})
    assert bad.status_code == 422 and set(bad.get_json()["errors"]) == {"severity", "since"}


def test_feedback_is_history_and_never_overwrites(client, tokens, app):
    answer = classify(client, customer=customer(), subject="Report slow", description="The report is slow.")
    url = f"/v1/decisions/{answer['decision_id']}/feedback"
    engineer = app.test_client()
    engineer.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {tokens['engineer']}"
    first = engineer.post(url, json={"severity": 2, "comment": "half the users are blocked"})
    assert first.status_code == 201 and first.get_json()["by"] == "test engineer"
    second = engineer.post(url, json={"pool": "pl-l1"})
    assert second.status_code == 201
    stored = client.get(f"/v1/decisions/{answer['decision_id']}").get_json()
    assert stored["severity"] == 3 and stored["answer"] == answer
    assert [(f["severity"], f["pool"], f["by"]) for f in stored["feedback"]] == [
        (2, None, "test engineer"),
        (None, "pl-l1", "test engineer"),
    ]
    assert engineer.post(url, json={"pool": "nowhere"}).status_code == 422
    assert engineer.post(url, json={}).status_code == 422
    assert engineer.post(url, json={"severity": 7}).status_code == 422
    assert engineer.post(f"/v1/decisions/{uuid.uuid4()}/feedback", json={"severity": 2}).status_code == 404


def test_export_lets_the_correction_win(client):
    who = customer()
    answer = classify(client, customer=who, subject="Report slow", description="The report is slow.")
    client.post(f"/v1/decisions/{answer['decision_id']}/feedback", json={"severity": 2})
    untouched = classify(client, customer=who, subject="Question", description="How do I add a user?")
    rows = list(csv.DictReader(io.StringIO(client.get("/v1/exports/decisions?format=csv").get_data(as_text=True))))
    by_id = {row["decision_id"]: row for row in rows}
    assert (by_id[answer["decision_id"]]["severity"], by_id[answer["decision_id"]]["label"]) == ("3", "2")
    assert by_id[untouched["decision_id"]]["label"] == "4" and by_id[untouched["decision_id"]]["corrected_severity"] == ""
    lines = client.get("/v1/exports/decisions?format=jsonl").get_data(as_text=True).splitlines()
    record = next(json.loads(line) for line in lines if answer["decision_id"] in line)
    assert record["label"] == 2 and record["subject"] == "Report slow" and record["language"] == "en"


def test_the_eleventh_basic_case_of_a_quarter_is_flagged(client):
    who = customer("basic")
    for _ in range(10):
        assert classify(client, customer=who, reported_at="2026-05-10T10:00:00+02:00")["entitlement"]["ok"]
    eleventh = classify(client, customer=who, reported_at="2026-06-30T23:00:00+00:00")
    assert eleventh["entitlement"]["problems"] == ["case 11 in 2026-Q2: the basic plan includes 10 cases per quarter"]
    assert eleventh["severity"]["level"] and eleventh["routing"]["pool"]  # still classified and routed
    next_quarter = classify(client, customer=who, reported_at="2026-07-01T00:00:00+00:00")
    assert next_quarter["entitlement"]["ok"]


def test_tokens_are_shown_once_stored_hashed_and_revocable(client, app):
    created = client.post("/v1/tokens", json={"name": "form", "role": "intake"})
    assert created.status_code == 201
    token = created.get_json()["token"]
    listed = client.get("/v1/tokens").get_json()
    assert all("token" not in t and "secret_hash" not in t for t in listed)
    stored = app.extensions["triage"].store.tokens()
    assert all(token.split("_", 2)[2] not in json.dumps(t, default=str) for t in stored)
    form = app.test_client()
    form.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    assert form.post("/v1/classify", json=case()).status_code == 200
    assert client.delete(f"/v1/tokens/{created.get_json()['id']}").status_code == 204
    assert form.post("/v1/classify", json=case()).status_code == 401
    assert client.delete(f"/v1/tokens/{created.get_json()['id']}").status_code == 404
    assert client.post("/v1/tokens", json={"name": "x", "role": "root"}).status_code == 422


def test_readiness_reports_the_database_and_the_spool(client):
    ready = client.get("/readyz").get_json()
    assert ready["database"]["ok"] is True and ready["database"]["revision"] == database.head_revision()
    assert ready["spool_depth"] == 0
