import shutil
from pathlib import Path

import pytest

from app import create_app
from app.config import DEFAULTS
from app.language import LanguageDetector

RULES = Path(DEFAULTS["RULES_DIR"])


@pytest.fixture
def rules_dir(tmp_path) -> Path:
    """A private, editable copy of the bundled rules."""
    target = tmp_path / "rules"
    shutil.copytree(RULES, target)
    return target


@pytest.fixture(scope="session")
def detector() -> LanguageDetector:
    return LanguageDetector(DEFAULTS["LANGUAGES"].split(","), "en")


@pytest.fixture(scope="session")
def app(tmp_path_factory):
    return create_app({"INSTANCE_DIR": str(tmp_path_factory.mktemp("instance")), "TESTING": True})


@pytest.fixture
def client(app):
    return app.test_client()


def case(subject="Server down", description="Production is down for all users.", **fields):
    """A valid request body, with fields overridden."""
    body = {"subject": subject, "description": description,
            "customer": {"id": "c-1", "plan": "premium", "country": "DE"}}
    body.update(fields)
    return body
