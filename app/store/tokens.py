"""Access: bearer tokens with one role each, stored hashed. `admin` may do everything.

Verification never needs the database on the request path: each process keeps the active tokens
(hashes only) in memory, refreshed every few seconds, and keeps a copy in the instance folder, so
cases are still accepted while the database is away (revocations then wait for it to return).
"""

import hashlib
import hmac
import json
import logging
import os
import secrets
import threading
import time
from dataclasses import dataclass
from pathlib import Path

log = logging.getLogger("triage.auth")

ROLES = ("intake", "engineer", "ops", "analyst", "admin")
_PREFIX = "trg"


@dataclass(frozen=True)
class Principal:
    token_id: str
    name: str
    role: str

    @property
    def author(self) -> str:
        """Who, as the audit trail keeps it: the token's name and id (names need not be unique)."""
        return f"{self.name[:80]} (token {self.token_id})"

    def may(self, roles: tuple[str, ...]) -> bool:
        return self.role == "admin" or self.role in roles


def hash_secret(secret: str) -> str:
    # the secret is 256 random bits: a plain SHA-256 is enough, no slow password hash needed
    return hashlib.sha256(secret.encode()).hexdigest()


def new_token() -> tuple[str, str, str]:
    """(token id, secret, the token as the client sends it)."""
    token_id, secret = secrets.token_hex(4), secrets.token_urlsafe(32)
    return token_id, secret, f"{_PREFIX}_{token_id}_{secret}"


class Tokens:
    def __init__(self, store, cache_file: Path, refresh_interval: float = 5.0, clock=time.monotonic):
        self.store, self.cache_file = store, Path(cache_file)
        self.refresh_interval, self._clock = refresh_interval, clock
        self._lock = threading.Lock()
        # True when a background thread calls refresh() every refresh_interval (the service): a request
        # then never waits on the database for its token, not even once an interval
        self.refreshed_in_background = False
        self._known: dict[str, dict] = {}
        self._refreshed = -float("inf")
        if self.cache_file.exists() and self.cache_file.stat().st_mode & 0o077:
            self.cache_file.chmod(0o600)  # a copy written before it was kept private
        self.refresh()

    def create(self, name: str, role: str) -> tuple[dict, str]:
        if role not in ROLES:
            raise ValueError(f"unknown role {role!r}; roles are {', '.join(ROLES)}")
        token_id, secret, token = new_token()
        record = self.store.add_token(token_id, name, role, hash_secret(secret))
        self.refresh()
        return record, token

    def revoke(self, token_id: str) -> bool:
        done = self.store.revoke_token(token_id)
        self.refresh()
        return done

    def verify(self, token: str) -> Principal | None:
        parts = token.split("_", 2)
        if len(parts) != 3 or parts[0] != _PREFIX:
            return None
        if not self.refreshed_in_background and self._clock() - self._refreshed >= self.refresh_interval:
            self.refresh(wait=False)  # one request thread refreshes; the others go on with the copy they have
        known = self._known.get(parts[1])
        if known is None or not hmac.compare_digest(known["secret_hash"], hash_secret(parts[2])):
            return None
        return Principal(parts[1], known["name"], known["role"])

    def refresh(self, wait: bool = True) -> None:
        """Reload the active tokens; if the database is away, keep what we had (or the saved copy).
        With wait=False, nothing happens while another thread is refreshing."""
        if not self._lock.acquire(blocking=wait):
            return
        try:
            if not wait and self._clock() - self._refreshed < self.refresh_interval:
                return  # another thread has just refreshed
            self._refreshed = self._clock()
            try:
                active = {
                    t["id"]: {"name": t["name"], "role": t["role"], "secret_hash": t["secret_hash"]}
                    for t in self.store.tokens(include_revoked=False)
                }
            except Exception as exc:
                if not self._known and self.cache_file.exists():
                    self._known = json.loads(self.cache_file.read_text())
                log.warning("tokens not refreshed (database unavailable), %d known: %s", len(self._known), exc)
                return
            if active != self._known:
                _write_private(self.cache_file, json.dumps(active))
            self._known = active
        finally:
            self._lock.release()


def _write_private(path: Path, text: str) -> None:
    """Replace the file at once with one only its owner may read (0600): it holds the token hashes."""
    temporary = path.with_name(f".{path.name}.{os.getpid()}.{threading.get_ident()}")
    handle = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(handle, 0o600)  # whatever a leftover file said
    with os.fdopen(handle, "w", encoding="utf-8") as file:
        file.write(text)
    os.replace(temporary, path)
