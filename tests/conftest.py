import os
import shutil
import uuid
from pathlib import Path

import pytest
import sqlalchemy as sa

from app import create_app
from app.settings import DEFAULTS, bundled
from app.severity.language import LanguageDetector
from app.store.tokens import ROLES

RULES = bundled("rules")
# One model signing key for the test run: the CLI in subprocesses and the apps built here agree on it.
MODEL_KEY = "test-model-signing-key"
os.environ["TRIAGE_MODEL_KEY"] = MODEL_KEY
POSTGRES = os.environ.get("TRIAGE_TEST_DATABASE_URL")
DATABASES = ["sqlite"] + (["postgresql"] if POSTGRES else [])


@pytest.fixture
def rules_dir(tmp_path) -> Path:
    """A private, editable copy of the bundled rules."""
    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    return target


@pytest.fixture(scope="session")
def detector() -> LanguageDetector:
    return LanguageDetector(DEFAULTS["LANGUAGES"].split(","), "en")


def fresh_postgres() -> tuple[str, callable]:
    """A new, empty PostgreSQL database on the test server, and how to drop it."""
    name = f"triage_test_{uuid.uuid4().hex[:10]}"
    admin = sa.create_engine(POSTGRES, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    url = sa.make_url(POSTGRES).set(database=name).render_as_string(hide_password=False)

    def drop():
        with admin.connect() as conn:  # FORCE: a session a stopping service's thread opens meanwhile goes too
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()

    return url, drop


@pytest.fixture(params=DATABASES)
def migrated_engine(request, tmp_path):
    """An empty store migrated to head, as an engine: a SQLite file, or a fresh PostgreSQL database."""
    from app.store import database

    url, drop = (f"sqlite:///{tmp_path / 'store.db'}", None) if request.param == "sqlite" else fresh_postgres()
    database.upgrade(url)
    engine = database.engine_for(url)
    yield engine
    engine.dispose()
    if drop:
        drop()


@pytest.fixture(scope="session", params=DATABASES)
def database_url(request, tmp_path_factory):
    """'' for the embedded SQLite default, or a fresh PostgreSQL database migrated to head."""
    if request.param == "sqlite":
        yield ""
        return
    from app.store import database as store

    url, drop = fresh_postgres()
    store.upgrade(url)
    yield url
    drop()


@pytest.fixture(scope="session")
def app(database_url, tmp_path_factory):
    application = create_app(
        {
            "INSTANCE_DIR": str(tmp_path_factory.mktemp("instance")),
            "TESTING": True,
            "DATABASE_URL": database_url,
            "SCHEDULER_INTERVAL": 0,  # tests tick the scheduler themselves, at the instants they choose
        }
    )
    yield application
    application.extensions["triage"].stop()
    application.extensions["triage"].store.engine.dispose()


@pytest.fixture(scope="session")
def tokens(app) -> dict[str, str]:
    """A token for every role."""
    return {role: app.extensions["triage"].tokens.create(f"test {role}", role)[1] for role in ROLES}


@pytest.fixture
def client(app, tokens):
    """A test client that authenticates as admin (who may do everything)."""
    test_client = app.test_client()
    test_client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {tokens['admin']}"
    return test_client


def case(subject="Server down", description="Production is down for all users.", **fields):
    """A valid request body, with fields overridden."""
    body = {"subject": subject, "description": description, "customer": {"id": "c-1", "plan": "premium", "country": "DE"}}
    body.update(fields)
    return body


def authed(application, role: str = "admin"):
    """A test client for an app made in a test, with a fresh token of the role."""
    test_client = application.test_client()
    token = application.extensions["triage"].tokens.create(f"test {role}", role)[1]
    test_client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return test_client


@pytest.fixture(autouse=True)
def _stop_services_made_in_the_test(monkeypatch):
    """Every service a test builds is stopped after it: its background threads (watchers, flusher,
    scheduler) would otherwise go on polling for the rest of the run."""
    from app.service import Triage

    made = []
    build = Triage.from_settings.__func__

    def recording(cls, settings):
        triage = build(cls, settings)
        made.append(triage)
        return triage

    monkeypatch.setattr(Triage, "from_settings", classmethod(recording))
    yield
    for triage in made:
        triage.stop()
