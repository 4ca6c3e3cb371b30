"""The HTTP contract through the Flask test client: answers, and every class of error."""

import pytest

from app import create_app

from .conftest import authed, case


def test_classify_answers_an_explained_decision(client):
    body = case(
        "Сервер не работает",
        "Продуктив лежит, все пользователи без доступа. Срочно!",
        declared_severity=2,
        case_id="T-1",
        reported_at="2026-03-09T10:00:00+03:00",
    )
    reply = client.post("/v1/classify", json=body)
    assert reply.status_code == 200
    data = reply.get_json()
    assert data["severity"]["level"] == 1 and data["severity"]["name"] == "business-critical outage"
    assert data["severity"]["source"] == "rules" and data["severity"]["declared"] == 2
    assert data["severity"]["matched_rules"][0] == {
        "id": "outage-critical",
        "severity": 1,
        "description": "The service is down for everyone, in production, or with business processes stopped.",
    }
    assert "Declared 2" in data["severity"]["note"]
    assert data["language"]["code"] == "ru" and data["language"]["source"] == "detected"
    assert 0.5 < data["language"]["confidence"] <= 1
    assert {"outage", "urgent", "production", "widespread"} <= set(data["signals"])
    assert {"signal": "outage", "source": "ru", "matched": "не работает"} in data["evidence"]
    assert data["case_id"] == "T-1" and data["reported_at"] == "2026-03-09T10:00:00+03:00"
    assert len(data["versions"]["rules"]) == 12 and len(data["decision_id"]) == 36


def test_given_language_wins_over_detection(client):
    data = client.post("/v1/classify", json=case("Server down", "Production down", language="pl")).get_json()
    assert data["language"] == {"code": "pl", "confidence": 1.0, "source": "given", "supported": True}


def test_a_language_without_a_vocabulary_is_reported_and_never_a_silent_3(client):
    body = case(
        "Tuotantopalvelin ei toimi",
        "Hei, kukaan käyttäjistämme ei ole päässyt kirjautumaan sisään tänä aamuna. Mitä teemme?",
        customer={"id": "c-fi", "plan": "advanced", "country": "FI"},
    )
    data = client.post("/v1/classify", json=body).get_json()
    assert data["language"] == {
        "code": "fi",
        "confidence": data["language"]["confidence"],
        "source": "detected",
        "supported": False,
    }
    assert data["severity"]["level"] == 3 and data["severity"]["source"] == "default"
    assert "Finnish (fi)" in data["severity"]["note"] and "no vocabulary" in data["severity"]["note"]
    assert data["routing"]["pool"] == "triage-desk" and data["routing"]["routes"] == ["unread-language", "first-line"]
    given = client.post("/v1/classify", json={**body, "language": "fi", "declared_severity": 2}).get_json()
    assert given["language"]["supported"] is False and given["severity"]["source"] == "declared"
    assert "no vocabulary" in given["severity"]["note"] and given["routing"]["pool"] != "triage-desk"  # urgent: 2


def test_spanish_is_read_as_spanish(client):
    body = case(
        "Urgente: sistema",
        "El sistema de producción no funciona desde esta mañana: ningún usuario puede iniciar sesión.",
        customer={"id": "c-es", "plan": "premium", "country": "ES"},
    )
    data = client.post("/v1/classify", json=body).get_json()
    assert data["language"]["code"] == "es" and data["language"]["supported"] is True
    assert data["severity"]["level"] == 1 and data["severity"]["source"] == "rules"
    assert {"signal": "outage", "source": "es", "matched": "no funciona"} in data["evidence"]


def test_a_report_from_the_future_is_refused(client):
    from datetime import UTC, datetime, timedelta

    soon = (datetime.now(UTC) + timedelta(minutes=4)).isoformat()
    assert client.post("/v1/classify", json=case(reported_at=soon)).status_code == 200
    later = (datetime.now(UTC) + timedelta(minutes=6)).isoformat()
    body = _error(client.post("/v1/classify", json=case(reported_at=later)), 422)
    assert list(body["errors"]) == ["reported_at"] and "in the future" in body["errors"]["reported_at"][0]
    body = _error(client.post("/v1/classify", json=case(reported_at="2030-01-01T09:00:00+01:00")), 422)
    assert list(body["errors"]) == ["reported_at"]


def test_no_rule_declared_then_default(client):
    declared = client.post("/v1/classify", json=case("Ticket 12", "See attached log.", declared_severity=2)).get_json()
    assert declared["severity"]["level"] == 2 and declared["severity"]["source"] == "declared"
    default = client.post("/v1/classify", json=case("Ticket 12", "See attached log.")).get_json()
    assert default["severity"]["level"] == 3 and default["severity"]["source"] == "default"
    assert default["severity"]["matched_rules"] == []


def test_environment_field_overrules_the_text(client):
    data = client.post(
        "/v1/classify", json=case("Prod copy down", "The prod server copy is down.", environment="non-production")
    ).get_json()
    assert data["severity"]["level"] == 3
    assert {"signal": "non_production", "source": "environment", "matched": "non-production"} in data["evidence"]
    assert "production" not in data["signals"]


def _error(reply, status):
    assert reply.status_code == status
    body = reply.get_json()
    assert set(body) == {"code", "status", "message", "errors"} and body["code"] == status and body["message"]
    return body


def test_malformed_json_is_400(client):
    _error(client.post("/v1/classify", data="{not json", content_type="application/json"), 400)


def test_non_json_content_type_is_415(client):
    _error(client.post("/v1/classify", data="subject=x", content_type="application/x-www-form-urlencoded"), 415)


def test_oversized_body_is_413(client):
    _error(client.post("/v1/classify", json=case(description="x" * 70_000)), 413)


def test_body_limit_is_configurable(tmp_path):
    small = authed(create_app({"INSTANCE_DIR": str(tmp_path), "MAX_CONTENT_LENGTH": 1000}))
    _error(small.post("/v1/classify", json=case(description="x" * 2000)), 413)
    assert small.post("/v1/classify", json=case()).status_code == 200


@pytest.mark.parametrize(
    "change, field",
    [
        ({"subject": ""}, "subject"),
        ({"subject": "   "}, "subject"),
        ({"subject": "x" * 501}, "subject"),
        ({"description": "x" * 20_001}, "description"),
        ({"customer": {"id": "c", "plan": "gold", "country": "DE"}}, "customer.plan"),
        ({"customer": {"id": "c", "plan": "basic", "country": "XX"}}, "customer.country"),
        ({"customer": {"plan": "basic", "country": "DE"}}, "customer.id"),
        ({"environment": "prod"}, "environment"),
        ({"declared_severity": 5}, "declared_severity"),
        ({"declared_severity": "2"}, "declared_severity"),
        ({"language": "xx"}, "language"),
        ({"channel": "fax"}, "channel"),
        ({"reported_at": "2026-06-17T10:00:00"}, "reported_at"),
        ({"case_id": "x" * 101}, "case_id"),
        ({"priority": "high"}, "priority"),
        ({"customer": {"id": "c", "plan": "basic", "country": "DE", "vip": True}}, "customer.vip"),
        ({"subject": None}, "subject"),
    ],
)
def test_each_invalid_field_is_422_and_named(client, change, field):
    body = _error(client.post("/v1/classify", json=case(**change)), 422)
    assert list(body["errors"]) == [field]


def test_all_bad_fields_are_listed_at_once(client):
    body = _error(client.post("/v1/classify", json={"subject": "", "customer": {"plan": "x"}}), 422)
    assert {"subject", "description", "customer.id", "customer.plan", "customer.country"} <= set(body["errors"])


def test_unknown_path_404_and_wrong_method_405(client):
    _error(client.get("/v2/nothing"), 404)
    _error(client.get("/v1/classify"), 405)


def test_unexpected_failure_is_500_without_a_trace(app, client, monkeypatch, caplog):
    def explode(*args, **kwargs):
        raise RuntimeError("secret internals")

    monkeypatch.setattr(app.extensions["triage"], "classify", explode)
    body = _error(client.post("/v1/classify", json=case()), 500)
    assert "secret" not in str(body) and "Traceback" not in str(body)
    assert "secret internals" in caplog.text


def test_health_readiness_and_openapi(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz").get_json()
    assert ready["status"] == "ready" and ready["rules"]["refused"] is None and len(ready["rules"]["version"]) == 12
    spec = client.get("/openapi.json").get_json()
    assert spec["openapi"].startswith("3.")
    operation = spec["paths"]["/v1/classify"]["post"]
    assert {"200", "400", "413", "415", "422"} <= set(operation["responses"])
    assert "Case" in spec["components"]["schemas"] and "Decision" in spec["components"]["schemas"]


def test_log_level_is_taken_in_any_case(tmp_path):
    create_app({"INSTANCE_DIR": str(tmp_path), "LOG_LEVEL": "warning"})
    import logging

    assert logging.getLogger("triage").level == logging.WARNING


def test_decision_carries_region_deadline_routing_and_entitlement(client):
    body = case(
        "Fehler beim Speichern",
        "Beim Speichern erscheint eine Fehlermeldung.",
        customer={"id": "de-shop", "plan": "basic", "country": "DE"},
        channel="chat",
        reported_at="2026-06-19T17:30:00+02:00",
    )
    data = client.post("/v1/classify", json=body).get_json()
    assert data["region"] == "EMEA"
    # at_risk depends on whether de-l1 is open now (the case is decided now, its deadline long past)
    assert {key: value for key, value in data["sla"].items() if not key.startswith("at_risk")} == {
        "plan": "basic",
        "target_minutes": 720,
        "clock": "business-hours",
        "due_at": "2026-06-23T11:30:00+02:00",
        "guaranteed": True,
        "note": None,
    }
    assert isinstance(data["sla"]["at_risk"], bool)
    routing = data["routing"]
    assert routing["pool"] == "de-l1" and routing["tier"] == "L1" and routing["respond_in"] == "de"
    assert routing["routes"] == ["first-line"] and routing["trace"][-1].startswith("chosen de-l1")
    assert data["entitlement"] == {"ok": False, "problems": ["channel chat is not included in plan basic (ticket)"]}


def test_tier_is_validated(client):
    body = _error(client.post("/v1/classify", json=case(tier="L3")), 422)
    assert list(body["errors"]) == ["tier"]


def test_pools_list_every_pool_with_hours_holidays_and_whether_open(client):
    pools = client.get("/v1/pools").get_json()
    by_id = {pool["id"]: pool for pool in pools}
    assert {"ru-l1", "pl-l1", "dk-l1", "de-l1", "cz-l1", "id-l1", "us-l1", "premium-247", "se-global"} <= set(by_id)
    ru = by_id["ru-l1"]
    assert ru["tier"] == "L1" and ru["region"] == "EMEA" and ru["languages"] == ["ru", "en"]
    assert ru["timezone"] == "Europe/Moscow" and ru["hours"]["mon"] == ["09:00-18:00"] and "sat" not in ru["hours"]
    assert ru["holiday_calendar"]["country"] == "RU" and ru["always_open"] is False
    assert by_id["premium-247"]["always_open"] is True and by_id["premium-247"]["open_now"] is True
    assert all(isinstance(pool["open_now"], bool) for pool in pools)


def test_coverage_at_an_instant(client):
    data = client.get("/v1/coverage", query_string={"at": "2026-03-09T10:00:00+03:00"}).get_json()
    assert data["at"] == "2026-03-09T10:00:00+03:00"
    assert "id-l1" in data["open"] and "premium-247" in data["open"] and "ru-l1" not in data["open"]
    closed = {entry["pool"]: entry for entry in data["closed"]}
    assert closed["ru-l1"] == {
        "pool": "ru-l1",
        "reason": "public holiday International Women's Day (observed) in RU",
        "opens_at": "2026-03-10T09:00:00+03:00",
    }
    assert closed["pl-l1"]["opens_at"] == "2026-03-09T09:00:00+01:00"


@pytest.mark.parametrize("value", ["2026-03-09T10:00:00", "yesterday"])
def test_coverage_refuses_an_instant_without_offset(client, value):
    body = _error(client.get("/v1/coverage", query_string={"at": value}), 422)
    assert list(body["errors"]) == ["at"]
