"""The model registries: one folder per version (model.joblib + model.json, and rows.hashes, the
training rows' hashes); ACTIVE names the served version and SHADOW the candidate scored beside it.
joblib runs code when it loads, so an artifact is loaded only from a registry and only after its
sha256 matches its metadata and its scikit-learn version matches ours.

A deployment has its own registry (TRIAGE_MODELS_DIR, instance/models by default): new models go
there, and its ACTIVE and SHADOW are the deployment's choice. The registry shipped with the package
(app/bundled/models) is searched after it, so the shipped model can be listed, activated and served
without copying it, and nothing is written into the package or the checkout unless asked for."""

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
    from app.classifier.shadow import Shadow

log = logging.getLogger("triage.model")
ARTIFACT, METADATA, ACTIVE, SHADOW = "model.joblib", "model.json", "ACTIVE", "SHADOW"


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


def save(models_dir: Path, model: "SeverityModel", metadata: dict, training_rows: tuple | None = None) -> dict:
    """Write a new version; returns its metadata (version id, hashes, ...). `training_rows` (texts,
    levels) keeps their hashes beside the model, so that evaluating it on them can be told."""
    created = datetime.now(UTC)
    version = f"{created:%Y%m%d-%H%M%S}-{metadata['data_sha256'][:8]}"
    folder = Path(models_dir) / version
    folder.mkdir(parents=True, exist_ok=False)
    import joblib

    from app.classifier import overlap

    joblib.dump(model, folder / ARTIFACT, compress=3)
    meta = {
        "version": version,
        "created_at": created.isoformat(),
        "sklearn_version": _sklearn_version(),
        "levels": list(model.levels),
        "temperature": model.temperature,
        **metadata,
        **({"row_hashes": overlap.save(folder, *training_rows)} if training_rows is not None else {}),
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


def registries(home: Path, shipped: Path | None = None) -> list[Path]:
    """Where versions are looked for, in order: the deployment's registry, then the shipped one
    (once, when they are the same folder)."""
    folders = [Path(home)]
    if shipped is not None and not same_folder(Path(shipped), Path(home)):
        folders.append(Path(shipped))
    return folders


def same_folder(a: Path, b: Path) -> bool:
    try:
        return a.resolve() == b.resolve()
    except OSError:
        return False


def locate(folders: list[Path], version: str) -> Path:
    """The registry holding `version` (the first that has it); ModelRefused when none does."""
    if "/" not in version and "\\" not in version and not version.startswith("."):
        for folder in folders:
            if (Path(folder) / version / METADATA).exists():
                return Path(folder)
    raise ModelRefused(f"no model version {version!r} in {' or '.join(str(f) for f in folders)}")


def listed(folders: list[Path]) -> list[dict]:
    """Every version of every registry, each with `registry` (its folder); a version in two
    registries is listed once, from the first."""
    seen, found = set(), []
    for folder in folders:
        for meta in versions(folder):
            if meta["version"] not in seen:
                seen.add(meta["version"])
                found.append({**meta, "registry": str(folder)})
    return found


def active_version(models_dir: Path, pointer: str = ACTIVE) -> str | None:
    """The version a pointer file (ACTIVE, SHADOW) of the deployment's registry names, if any."""
    path = Path(models_dir) / pointer
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

    try:
        model = joblib.load(Path(models_dir) / version / ARTIFACT)
    except (ImportError, AttributeError) as exc:  # pickled against modules or classes this version of triage does not have
        raise ModelRefused(f"model {version}: this version of triage cannot load its artifact ({exc}); retrain it") from None
    if not isinstance(model, SeverityModel):
        raise ModelRefused(f"model {version}: the artifact is not a severity model")
    try:
        model.one_case()  # build the serving path now, not in the first request
    except (KeyError, AttributeError) as exc:
        raise ModelRefused(
            f"model {version}: its pipeline is not one this version of triage serves (missing {exc}); retrain it"
        ) from None
    return model, meta


def activate(models_dir: Path, version: str, shipped: Path | None = None, pointer: str = ACTIVE) -> dict:
    """Make `version` (of the deployment's registry or the shipped one) the served model, or with
    pointer=SHADOW the shadowed one, after checking it; every process picks it up. The pointer is
    written in the deployment's registry."""
    meta = verify(locate(registries(models_dir, shipped), version), version)
    Path(models_dir).mkdir(parents=True, exist_ok=True)
    target = Path(models_dir) / pointer
    temporary = target.with_suffix(".tmp")
    temporary.write_text(version + "\n")
    os.replace(temporary, target)  # atomic: a process sees the old name or the new, never half
    return meta


def clear(models_dir: Path, pointer: str) -> bool:
    """Remove a pointer (SHADOW: stop shadowing); False when there was none."""
    try:
        (Path(models_dir) / pointer).unlink()
    except FileNotFoundError:
        return False
    return True


class LiveModel:
    """The model this process serves, following ACTIVE (or, with pointer=SHADOW, the candidate it
    scores beside it); without one (or with a refused one) the service runs on rules alone and says
    why. The service's watcher threads call check(), so a model loads (and its serving loops
    compile) off the request path, and is swapped in whole. `shadow` (app.classifier.shadow.Shadow)
    is the served model's companion, if the service keeps one; /readyz shows it in the model block."""

    def __init__(self, models_dir: Path, shipped: Path | None = None, pointer: str = ACTIVE):
        self.models_dir = Path(models_dir)
        self.folders = registries(self.models_dir, shipped)
        self.pointer = pointer
        self._lock = threading.Lock()
        self._served: tuple[SeverityModel | None, dict | None] = (None, None)
        self.problem: str | None = None
        self._seen: object = object()
        self.shadow: Shadow | None = None
        self.check()

    @property
    def meta(self) -> dict | None:
        return self._served[1]

    def get(self) -> tuple["SeverityModel | None", dict | None]:
        """The model and its metadata, as one pair (never a new model with old metadata)."""
        return self._served

    def check(self) -> None:
        with self._lock:
            version = active_version(self.models_dir, self.pointer)
            if version == self._seen:
                return
            self._seen = version
            if version is None:
                self._served, self.problem = (None, None), None
                return
            try:
                self._served = load(locate(self.folders, version), version)
                self.problem = None
                log.info("model %s %s", version, "active" if self.pointer == ACTIVE else "shadowed")
            except (ModelRefused, Exception) as exc:
                self._served = (None, None)
                if self.pointer == ACTIVE:
                    self.problem = f"model {version} refused, running on rules alone: {exc}"
                else:
                    self.problem = f"shadow model {version} refused, nothing is scored beside the decisions: {exc}"
                log.error(self.problem)

    def status(self) -> dict:
        status = {"active": self.meta["version"] if self.meta else None, "refused": self.problem, "source": str(self.models_dir)}
        if self.shadow is not None:
            status["shadow"] = self.shadow.status()
        return status
