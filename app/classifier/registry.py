"""The model registries: one folder per version (model.joblib + model.json, and rows.hashes, the
training rows' hashes); ACTIVE names the served version and SHADOW the candidate scored beside it.
joblib runs code when it loads, so an artifact is loaded only from a registry, never through a
symbolic link, and only after its sha256 matches its metadata, its HMAC-SHA256 signature matches
the deployment's key, and its scikit-learn version matches ours. The key (TRIAGE_MODEL_KEY, or
<instance>/model.key made on first use, mode 0600) is never kept beside a model: whoever can write
a registry folder cannot sign what they put there. Models trained here are signed when saved;
`triage model sign` signs an artifact brought from elsewhere, an explicit act of trust. The shipped
registry is part of the installed package and trusted as its code is (key None).

A deployment has its own registry (TRIAGE_MODELS_DIR, instance/models by default): new models go
there, and its ACTIVE and SHADOW are the deployment's choice. The registry shipped with the package
(app/bundled/models) is searched after it, so the shipped model can be listed, activated and served
without copying it, and nothing is written into the package or the checkout unless asked for."""

import hashlib
import hmac
import json
import logging
import os
import stat
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


MIN_KEY = 16  # characters of a signing key


def model_key(configured: str, instance_dir: Path) -> bytes:
    """The deployment's signing key: TRIAGE_MODEL_KEY, else <instance>/model.key (32 random bytes,
    made once, mode 0600, and appearing whole: written aside, then linked into place)."""
    if configured:
        key = configured.encode()
    else:
        path = Path(instance_dir) / "model.key"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            aside = path.with_name(f".model.key.{os.getpid()}.{threading.get_ident()}")
            descriptor = os.open(aside, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(descriptor, "w") as handle:
                handle.write(os.urandom(32).hex())
            try:
                os.link(aside, path)  # atomic: another process sees no key or the whole key
            except FileExistsError:  # another process made it first
                pass
            finally:
                os.unlink(aside)
        key = path.read_text().strip().encode()
    if len(key) < MIN_KEY:
        raise ModelRefused(f"the model signing key has {len(key)} characters; it needs at least {MIN_KEY}")
    return key


def signature_of(version: str, artifact: bytes, key: bytes) -> str:
    """HMAC-SHA256 over the version's name and its artifact: a signed artifact copied under
    another name is not signed."""
    return hmac.new(key, version.encode() + b"\0" + artifact, hashlib.sha256).hexdigest()


def _artifact(folder: Path, version: str) -> bytes:
    """The artifact's bytes, read once: what is checked is what is loaded. A link, a pipe or
    anything but a regular file is refused."""
    try:
        descriptor = os.open(folder / ARTIFACT, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK)
    except FileNotFoundError:
        raise ModelRefused(f"model {version}: {ARTIFACT} is missing") from None
    except OSError as exc:
        raise ModelRefused(f"model {version}: {ARTIFACT} cannot be opened ({exc.strerror})") from None
    with os.fdopen(descriptor, "rb") as handle:
        if not stat.S_ISREG(os.fstat(handle.fileno()).st_mode):
            raise ModelRefused(f"model {version}: {ARTIFACT} is not a regular file")
        return handle.read()


def key_for(folder: Path, shipped: Path | None, key: bytes) -> bytes | None:
    """The key a registry's models must be signed with: None for the shipped registry."""
    return None if shipped is not None and same_folder(Path(folder), Path(shipped)) else key


def sign(models_dir: Path, version: str, key: bytes) -> dict:
    """Trust a version brought from elsewhere: sign its artifact with the deployment's key."""
    folder = _version_folder(models_dir, version)
    meta = json.loads((folder / METADATA).read_text())
    artifact = _artifact(folder, version)
    meta["signature"] = signature_of(version, artifact, key)
    meta["artifact_sha256"] = hashlib.sha256(artifact).hexdigest()
    (folder / METADATA).write_text(json.dumps(meta, indent=2, ensure_ascii=False))
    return meta


def _version_folder(models_dir: Path, version: str) -> Path:
    folder = Path(models_dir) / version
    if "/" in version or "\\" in version or version.startswith(".") or not (folder / METADATA).exists():
        raise ModelRefused(f"no model version {version!r} in the registry")
    for path in (folder, folder / METADATA, folder / ARTIFACT):
        if path.is_symlink():
            raise ModelRefused(f"model {version}: {path.name} is a symbolic link; copy the model into the registry")
    return folder


def _sklearn_version() -> str:
    return installed_version("scikit-learn")


def save(
    models_dir: Path, model: "SeverityModel", metadata: dict, training_rows: tuple | None = None, key: bytes | None = None
) -> dict:
    """Write a new version; returns its metadata (version id, hashes, ...). `training_rows` (texts,
    levels) keeps their hashes beside the model, so that evaluating it on them can be told."""
    created = datetime.now(UTC)
    version = f"{created:%Y%m%d-%H%M%S}-{metadata['data_sha256'][:8]}"
    folder = Path(models_dir) / version
    folder.mkdir(parents=True, exist_ok=False)
    import joblib

    from app.classifier import overlap

    joblib.dump(model, folder / ARTIFACT, compress=3)
    artifact = _artifact(folder, version)
    meta = {
        "version": version,
        "created_at": created.isoformat(),
        "sklearn_version": _sklearn_version(),
        "levels": list(model.levels),
        "temperature": model.temperature,
        **metadata,
        **({"row_hashes": overlap.save(folder, *training_rows)} if training_rows is not None else {}),
        "artifact_sha256": hashlib.sha256(artifact).hexdigest(),
        "artifact_bytes": len(artifact),
        **({"signature": signature_of(version, artifact, key)} if key is not None else {}),
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
    raise ModelRefused(f"no model version {version!r} in the deployment's registry or the shipped one")


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


def verify(models_dir: Path, version: str, key: bytes | None) -> dict:
    """The version's metadata, if its artifact may be loaded (signed with `key`; None: a trusted
    registry); ModelRefused otherwise. Nothing is unpickled here."""
    return _checked(models_dir, version, key)[0]


def _checked(models_dir: Path, version: str, key: bytes | None) -> tuple[dict, bytes]:
    """The version's metadata and its artifact's bytes, read once and checked: sha256, signature,
    scikit-learn version."""
    folder = _version_folder(models_dir, version)
    meta = json.loads((folder / METADATA).read_text())
    artifact = _artifact(folder, version)
    actual = hashlib.sha256(artifact).hexdigest()
    if actual != meta.get("artifact_sha256"):
        raise ModelRefused(
            f"model {version}: the artifact's sha256 {actual[:12]}… does not match its metadata "
            f"({str(meta.get('artifact_sha256'))[:12]}…); it was changed after training"
        )
    if key is not None and not hmac.compare_digest(str(meta.get("signature", "")), signature_of(version, artifact, key)):
        raise ModelRefused(
            f"model {version} is not signed with this deployment's key; if you trust it, run: triage model sign {version}"
        )
    made, ours = str(meta.get("sklearn_version", "")), _sklearn_version()
    if made.split(".")[:2] != ours.split(".")[:2]:
        raise ModelRefused(f"model {version} was made with scikit-learn {made}; this service runs {ours}")
    return meta, artifact


def load(models_dir: Path, version: str, key: bytes | None) -> tuple["SeverityModel", dict]:
    meta, artifact = _checked(models_dir, version, key)
    import io

    import joblib

    from app.classifier.model import SeverityModel

    try:
        model = joblib.load(io.BytesIO(artifact))  # the very bytes that were checked
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


def activate(models_dir: Path, version: str, key: bytes, shipped: Path | None = None, pointer: str = ACTIVE) -> dict:
    """Make `version` (of the deployment's registry or the shipped one) the served model, or with
    pointer=SHADOW the shadowed one, after checking it; every process picks it up. The pointer is
    written in the deployment's registry."""
    folder = locate(registries(models_dir, shipped), version)
    meta = verify(folder, version, key_for(folder, shipped, key))
    load(folder, version, key_for(folder, shipped, key))  # a truncated or foreign artifact is refused here, not in the workers
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

    def __init__(self, models_dir: Path, key: bytes, shipped: Path | None = None, pointer: str = ACTIVE):
        self.models_dir = Path(models_dir)
        self.key, self.shipped = key, shipped
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
                folder = locate(self.folders, version)
                self._served = load(folder, version, key_for(folder, self.shipped, self.key))
                self.problem = None
                log.info("model %s %s", version, "active" if self.pointer == ACTIVE else "shadowed")
            except (ModelRefused, Exception) as exc:
                kept = self._served[1]["version"] if self._served[1] else None
                if self.pointer == ACTIVE:  # the last good model stays, as the last good rules do
                    staying = f"{kept} stays active" if kept else "running on rules alone"
                    self.problem = f"model {version} refused, {staying}: {exc}"
                else:
                    self._served = (None, None)
                    self.problem = f"shadow model {version} refused, nothing is scored beside the decisions: {exc}"
                log.error(self.problem)

    def status(self) -> dict:
        status = {"active": self.meta["version"] if self.meta else None, "refused": self.problem}
        if self.shadow is not None:
            status["shadow"] = self.shadow.status()
        return status
