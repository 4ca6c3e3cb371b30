"""A model file never runs code before it is checked: artifacts are signed with the deployment's key
(HMAC-SHA256, the key never beside the model), symbolic links and folders outside the registry are
refused, an artifact that cannot be loaded is refused at activation, and a refused model leaves the
last good one serving."""

import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import joblib
import pytest

from app import create_app
from app.classifier import registry
from app.settings import bundled

from .conftest import MODEL_KEY, authed

TRIAGE = str(Path(sys.executable).with_name("triage"))
SHIPPED = bundled("models")
VERSION = next(p.name for p in sorted(SHIPPED.iterdir()) if (p / "model.json").exists())


def run(*args, models: Path):
    env = {**os.environ, "TRIAGE_MODELS_DIR": str(models)}
    return subprocess.run([TRIAGE, *map(str, args)], capture_output=True, text=True, timeout=300, env=env)


class _Payload:
    """Unpickling this runs code: it writes a marker file."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.write_text, (self.marker, "the payload ran"))


def _crafted(models: Path, marker: Path) -> str:
    """A version folder holding a malicious pickle whose own model.json carries its matching sha256."""
    version = "20990101-000000-evil0001"
    folder = models / version
    folder.mkdir(parents=True)
    joblib.dump(_Payload(marker), folder / "model.joblib")
    meta = json.loads((SHIPPED / VERSION / "model.json").read_text())
    meta.update(version=version, artifact_sha256=registry.sha256_of(folder / "model.joblib"))
    meta.pop("signature", None)
    (folder / "model.json").write_text(json.dumps(meta))
    return version


def _copy_shipped(models: Path) -> str:
    shutil.copytree(SHIPPED / VERSION, models / VERSION)
    return VERSION


def test_a_crafted_pickle_with_its_own_matching_hash_is_refused_before_it_runs(tmp_path):
    models, marker = tmp_path / "models", tmp_path / "marker"
    version = _crafted(models, marker)
    refused = run("model", "activate", version, models=models)
    assert refused.returncode == 1 and "not signed with this deployment's key" in refused.stderr
    assert not marker.exists()
    # a worker told to serve it (ACTIVE written by hand) refuses it the same way, without running it
    (models / "ACTIVE").write_text(version)
    app = create_app({"INSTANCE_DIR": str(tmp_path / "instance"), "MODELS_DIR": str(models)})
    status = authed(app, "ops").get("/readyz").get_json()["model"]
    assert status["active"] is None and "not signed" in status["refused"]
    assert not marker.exists()


def test_signing_is_the_explicit_act_of_trust_and_the_key_never_sits_beside_the_model(tmp_path):
    models = tmp_path / "models"
    version = _copy_shipped(models)  # the shipped model is trusted where it ships, not as a copy elsewhere
    assert registry.locate(registry.registries(models, SHIPPED), version) == models
    refused = run("model", "activate", version, models=models)
    assert refused.returncode == 1 and "triage model sign" in refused.stderr
    signed = run("model", "sign", version, models=models)
    assert signed.returncode == 0, signed.stderr
    assert run("model", "activate", version, models=models).returncode == 0
    assert all(MODEL_KEY.encode() not in p.read_bytes() for p in models.rglob("*") if p.is_file())


def test_a_symbolic_link_in_the_registry_is_refused(tmp_path):
    models = tmp_path / "models"
    models.mkdir()
    (models / VERSION).symlink_to(SHIPPED / VERSION)
    refused = run("model", "activate", VERSION, models=models)
    # the shipped registry holds the same version; a link in the deployment's registry is looked at first
    assert refused.returncode == 1 and "symbolic link" in refused.stderr


def test_evaluate_loads_only_from_a_registry_unless_trusted(tmp_path):
    elsewhere = tmp_path / "downloads"
    shutil.copytree(SHIPPED / VERSION, elsewhere / VERSION)
    data = SHIPPED / "sample" / "tickets.csv"
    columns = ["--text-columns", "subject,description", "--label-column", "level", "--label-map", "1=1,2=2,3=3,4=4"]
    refused = run("model", "evaluate", "--model", elsewhere / VERSION, "--data", data, *columns, models=tmp_path / "m")
    assert refused.returncode == 1 and "not in a registry" in refused.stderr
    trusted = run("model", "evaluate", "--model", elsewhere / VERSION, "--trust", "--data", data, *columns, models=tmp_path / "m")
    assert trusted.returncode == 0, trusted.stderr


def test_a_truncated_signed_artifact_is_refused_at_activation_and_the_last_good_model_keeps_serving(tmp_path):
    models = tmp_path / "models"
    good = _copy_shipped(models)
    assert run("model", "sign", good, models=models).returncode == 0
    assert run("model", "activate", good, models=models).returncode == 0
    app = create_app({"INSTANCE_DIR": str(tmp_path / "instance"), "MODELS_DIR": str(models), "MODEL_CHECK_INTERVAL": 0.1})
    ops = authed(app, "ops")
    assert ops.get("/readyz").get_json()["model"]["active"] == good

    broken = "20990101-000000-trunc001"
    shutil.copytree(models / good, models / broken)
    artifact = models / broken / "model.joblib"
    artifact.write_bytes(artifact.read_bytes()[: artifact.stat().st_size // 2])
    meta = json.loads((models / broken / "model.json").read_text())
    (models / broken / "model.json").write_text(
        json.dumps({**meta, "version": broken, "artifact_sha256": registry.sha256_of(artifact)})
    )
    assert run("model", "sign", broken, models=models).returncode == 0  # signed, yet it cannot be loaded
    refused = run("model", "activate", broken, models=models)
    assert refused.returncode == 1 and "ACTIVE" not in refused.stdout
    assert (models / "ACTIVE").read_text().strip() == good

    # written by hand anyway: the workers refuse it and keep serving the last good model
    (models / "ACTIVE").write_text(broken)
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and ops.get("/readyz").get_json()["model"]["refused"] is None:
        time.sleep(0.1)
    status = ops.get("/readyz").get_json()["model"]
    assert status["active"] == good and f"{good} stays active" in status["refused"]
    app.extensions["triage"].stop()


def test_a_signed_artifact_copied_under_another_name_is_not_signed(tmp_path):
    models = tmp_path / "models"
    version = _copy_shipped(models)
    assert run("model", "sign", version, models=models).returncode == 0
    twin = "20990101-000000-twin0001"
    shutil.copytree(models / version, models / twin)
    meta = json.loads((models / twin / "model.json").read_text())
    (models / twin / "model.json").write_text(json.dumps({**meta, "version": twin}))
    refused = run("model", "activate", twin, models=models)
    assert refused.returncode == 1 and "not signed" in refused.stderr


def test_an_artifact_that_is_not_a_regular_file_is_refused_without_waiting(tmp_path):
    """What is checked is what is loaded: the artifact is read once; a pipe (which could serve the
    checked bytes first and a payload after) is refused at once."""
    models = tmp_path / "models"
    version = _copy_shipped(models)
    (models / version / "model.joblib").unlink()
    os.mkfifo(models / version / "model.joblib")
    started = time.monotonic()
    refused = run("model", "activate", version, models=models)
    assert refused.returncode == 1 and "not a regular file" in refused.stderr
    assert time.monotonic() - started < 60


def test_an_empty_or_short_key_is_refused(tmp_path):
    instance = tmp_path / "instance"
    instance.mkdir()
    (instance / "model.key").write_text("")
    with pytest.raises(registry.ModelRefused, match="at least 16"):
        registry.model_key("", instance)
    with pytest.raises(registry.ModelRefused, match="at least 16"):
        registry.model_key("short", instance)
    fresh = registry.model_key("", tmp_path / "other")
    assert len(fresh) == 64 and (tmp_path / "other" / "model.key").stat().st_mode & 0o777 == 0o600
    assert registry.model_key("", tmp_path / "other") == fresh
