"""The model registry: one folder per version (model.joblib + model.json), and ACTIVE naming the
served one. joblib runs code when it loads, so an artifact is loaded only from the registry and only
after its sha256 matches its metadata and its scikit-learn version matches ours."""

import hashlib
import json
import logging
import os
import threading
from datetime import UTC, datetime
from importlib.metadata import version as installed_version
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # scikit-learn and numba load only with a model, not with the service
    from app.classifier.model import SeverityModel

log = logging.getLogger("triage.model")
ARTIFACT, METADATA, ACTIVE = "model.joblib", "model.json", "ACTIVE"


class ModelRefused(Exception):
    """A model version that may not be served; the message says why."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sklearn_version() -> str:
    return installed_version("scikit-learn")


def save(models_dir: Path, model: "SeverityModel", metadata: dict) -> dict:
    """Write a new version; returns its metadata (version id, hashes, ...)."""
    created = datetime.now(UTC)
    version = f"{created:%Y%m%d-%H%M%S}-{metadata['data_sha256'][:8]}"
    folder = Path(models_dir) / version
    folder.mkdir(parents=True, exist_ok=False)
    import joblib

    joblib.dump(model, folder / ARTIFACT, compress=3)
    meta = {
        "version": version,
        "created_at": created.isoformat(),
        "sklearn_version": _sklearn_version(),
        "levels": list(model.levels),
        "temperature": model.temperature,
        **metadata,
        "artifact_sha256": sha256_of(folder / ARTIFACT),
        "artifact_bytes": (folder / ARTIFACT).stat().st_size,
    }
    (folder / METADATA).write_text(json.dumps(meta, indent=2, ensure_ascii=False))
    return meta


def versions(models_dir: Path) -> list[dict]:
    found = []
    for meta_path in sorted(Path(models_dir).glob(f"*/{METADATA}")):
        try:
            found.append(json.loads(meta_path.read_text()))
        except (OSError, json.JSONDecodeError) as exc:
            found.append({"version": meta_path.parent.name, "error": f"unreadable metadata: {exc}"})
    return sorted(found, key=lambda m: m.get("created_at", ""))


def active_version(models_dir: Path) -> str | None:
    path = Path(models_dir) / ACTIVE
    return path.read_text().strip() or None if path.exists() else None


def verify(models_dir: Path, version: str) -> dict:
    """The version's metadata, if its artifact may be loaded; ModelRefused otherwise."""
    folder = Path(models_dir) / version
    if "/" in version or version.startswith(".") or not (folder / METADATA).exists():
        raise ModelRefused(f"no model version {version!r} in {models_dir}")
    meta = json.loads((folder / METADATA).read_text())
    if not (folder / ARTIFACT).exists():
        raise ModelRefused(f"model {version}: {ARTIFACT} is missing")
    actual = sha256_of(folder / ARTIFACT)
    if actual != meta.get("artifact_sha256"):
        raise ModelRefused(
            f"model {version}: the artifact's sha256 {actual[:12]}… does not match its metadata "
            f"({str(meta.get('artifact_sha256'))[:12]}…); it was changed after training"
        )
    made, ours = str(meta.get("sklearn_version", "")), _sklearn_version()
    if made.split(".")[:2] != ours.split(".")[:2]:
        raise ModelRefused(f"model {version} was made with scikit-learn {made}; this service runs {ours}")
    return meta


def load(models_dir: Path, version: str) -> tuple["SeverityModel", dict]:
    meta = verify(models_dir, version)
    import joblib

    from app.classifier.model import SeverityModel

    model = joblib.load(Path(models_dir) / version / ARTIFACT)
    if not isinstance(model, SeverityModel):
        raise ModelRefused(f"model {version}: the artifact is not a severity model")
    try:
        model.one_case()  # build the serving path now, not in the first request
    except (KeyError, AttributeError) as exc:
        raise ModelRefused(
            f"model {version}: its pipeline is not one this version of triage serves (missing {exc}); retrain it"
        ) from None
    return model, meta


def activate(models_dir: Path, version: str) -> dict:
    """Make `version` the served model (after checking it); every process picks it up."""
    meta = verify(models_dir, version)
    target = Path(models_dir) / ACTIVE
    temporary = target.with_suffix(".tmp")
    temporary.write_text(version + "\n")
    os.replace(temporary, target)  # atomic: a process sees the old name or the new, never half
    return meta


class LiveModel:
    """The model this process serves, following ACTIVE; without one (or with a refused one) the
    service runs on rules alone and says why. The service's watcher thread calls check(), so a model
    loads (and its serving loops compile) off the request path, and is swapped in whole."""

    def __init__(self, models_dir: Path):
        self.models_dir = Path(models_dir)
        self._lock = threading.Lock()
        self._served: tuple[SeverityModel | None, dict | None] = (None, None)
        self.problem: str | None = None
        self._seen: object = object()
        self.check()

    @property
    def meta(self) -> dict | None:
        return self._served[1]

    def get(self) -> tuple["SeverityModel | None", dict | None]:
        """The model and its metadata, as one pair (never a new model with old metadata)."""
        return self._served

    def check(self) -> None:
        with self._lock:
            version = active_version(self.models_dir)
            if version == self._seen:
                return
            self._seen = version
            if version is None:
                self._served, self.problem = (None, None), None
                return
            try:
                self._served = load(self.models_dir, version)
                self.problem = None
                log.info("model %s active", version)
            except (ModelRefused, Exception) as exc:
                self._served = (None, None)
                self.problem = f"model {version} refused, running on rules alone: {exc}"
                log.error(self.problem)

    def status(self) -> dict:
        return {"active": self.meta["version"] if self.meta else None, "refused": self.problem, "source": str(self.models_dir)}
