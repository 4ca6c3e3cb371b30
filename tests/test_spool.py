"""The spool: appended records survive until a save succeeds, and a replay never duplicates."""

import pytest

from app.store import database as store_mod
from app.store.spool import Flusher, Spool


def record(decision_id):
    return {
        "decision_id": decision_id,
        "decided_at": "2026-06-17T10:00:00+00:00",
        "reported_at": "2026-06-17T09:59:00+00:00",
        "customer_id": "c",
        "plan": "basic",
        "severity": 3,
        "source": "rules",
        "pool": "de-l1",
        "rules_version": "v",
        "model_version": None,
        "request": {"subject": "ż"},
        "answer": {"ok": True},
    }


@pytest.fixture
def store(tmp_path):
    url = f"sqlite:///{tmp_path / 'db.sqlite'}"
    store_mod.upgrade(url)
    return store_mod.Store(store_mod.engine_for(url))


def test_a_failed_save_keeps_everything_and_a_later_flush_writes_it_once(tmp_path, store):
    spool = Spool(tmp_path / "spool")
    for i in range(3):
        spool.append(record(f"00000000-0000-7000-8000-00000000000{i}"))
    assert spool.depth() == 3

    def broken(records):
        raise ConnectionError("database away")

    assert Flusher(spool, broken).flush_now() == 0
    assert spool.depth() == 3
    store.save([record("00000000-0000-7000-8000-000000000001")])  # one got through before the outage
    assert Flusher(spool, store.save).flush_now() == 3
    assert spool.depth() == 0
    assert [r["decision_id"] for r in store.find().items] == [f"00000000-0000-7000-8000-00000000000{i}" for i in (2, 1, 0)]
    assert store.get("00000000-0000-7000-8000-000000000002")["request"] == {"subject": "ż"}


def test_saving_the_same_decision_twice_stores_it_once(store):
    assert store.save([record("00000000-0000-7000-8000-000000000009")]) == 1
    assert store.save([record("00000000-0000-7000-8000-000000000009")]) == 0
    assert len(store.find().items) == 1


def test_instants_keep_their_moment_whatever_their_offset(store):
    """SQLite keeps no offset: instants are stored in UTC, so +02:00 and Z compare and read back right."""
    store.save(
        [
            {
                **record("019f1b30-a280-7000-8000-000000000010"),  # a UUIDv7 of its decided_at, as every id is
                "reported_at": "2026-06-30T23:30:00-02:00",
                "decided_at": "2026-07-01T03:00:00+02:00",
            }
        ]
    )
    stored = store.get("019f1b30-a280-7000-8000-000000000010")
    assert stored["reported_at"].isoformat() == "2026-07-01T01:30:00+00:00"
    assert stored["decided_at"].isoformat() == "2026-07-01T01:00:00+00:00"
    from datetime import datetime

    q3 = (datetime.fromisoformat("2026-07-01T00:00:00+00:00"), datetime.fromisoformat("2026-10-01T00:00:00+00:00"))
    assert store.count_reported("c", *q3) == 1  # 23:30 at -02:00 is already in the third quarter
    assert store.count_reported("c", q3[0].replace(month=4), q3[0]) == 0
    assert len(store.find(since=datetime.fromisoformat("2026-07-01T02:59:00+02:00")).items) == 1
    assert len(store.find(since=datetime.fromisoformat("2026-07-01T03:01:00+02:00")).items) == 0
