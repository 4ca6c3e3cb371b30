"""Shadow mode: a candidate model scores every recorded decision's case beside the served one, and
its level and confidence are stored for comparison, never used.

The request only queues the case (an append; nothing when no shadow model is loaded). The worker's
shadow thread (the service's Periodic "model-shadow") follows SHADOW like the model watcher follows
ACTIVE, loads the candidate off the request path, scores what is queued and hands the scores to the
store. A missing, refused or failing shadow model, or a store that refuses the scores, is logged and
shown in /readyz; the decisions never wait for it nor see it."""

import logging
from collections import deque
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from app.classifier.registry import LiveModel

log = logging.getLogger("triage.model")
QUEUE_LIMIT = 10_000  # cases waiting to be scored; more are dropped (and counted) rather than held


class Shadow:
    """The shadow holder (a LiveModel following SHADOW), the queue of cases to score, and what
    became of them. `score(model, meta, case, language)` returns what app.decide.classify.predict
    does (an object with `level` and `confidence`); `write(rows)` stores shadow_scores rows."""

    def __init__(
        self, holder: LiveModel, score: Callable[..., Any], write: Callable[[list[dict]], Any], limit: int = QUEUE_LIMIT
    ):
        self.holder, self.score, self.write, self.limit = holder, score, write, limit
        self._queue: deque = deque()
        self.scored = self.failed = self.dropped = 0
        self.problem: str | None = None  # the last scoring or storing failure
        self._last_kind = ""

    def submit(self, decision_id: str, case, language: str) -> None:
        """Queue a decision's case for the candidate model; never raises and never waits."""
        try:
            if self.holder.get()[0] is None:
                return
            if len(self._queue) >= self.limit:
                self.dropped += 1
                return
            self._queue.append((decision_id, case, language))
        except Exception:  # nothing here may reach the decision
            log.exception("shadow scoring: could not queue decision %s", decision_id)

    def check(self) -> None:
        """The shadow thread's round: follow SHADOW (loading a new candidate here), then score the queue."""
        self.holder.check()
        self.drain()

    def drain(self) -> int:
        """Score every queued case with the candidate and store the scores; how many were stored."""
        batch = []
        while self._queue:
            batch.append(self._queue.popleft())
        model, meta = self.holder.get()
        if not batch:
            return 0
        if model is None or meta is None:  # SHADOW was switched off (or its model refused) since they were queued
            self.dropped += len(batch)
            return 0
        rows = []
        for decision_id, case, language in batch:
            try:
                prediction = self.score(model, meta, case, language)
                rows.append(
                    {
                        "decision_id": decision_id,
                        "model_version": meta["version"],
                        "level": int(prediction.level),
                        "confidence": float(prediction.confidence),
                        "scored_at": datetime.now(UTC),
                    }
                )
            except Exception as exc:
                self.failed += 1
                self._failed(
                    f"score {type(exc).__name__}",
                    f"shadow model {meta['version']} could not score decision {decision_id}: {exc!r}",
                )
        if not rows:
            return 0
        try:
            self.write(rows)
        except Exception as exc:
            self.failed += len(rows)
            self._failed(
                f"store {type(exc).__name__}",
                f"{len(rows)} shadow score(s) of model {meta['version']} not stored: {type(exc).__name__}: {exc}",
            )
            return 0
        self.scored += len(rows)
        self._last_kind = ""
        return len(rows)

    def _failed(self, kind: str, problem: str) -> None:
        if kind != self._last_kind:  # a failure that repeats on every case is logged once, not per case
            log.error("%s (the decisions are not affected; /readyz shows the last such problem)", problem)
        self._last_kind, self.problem = kind, problem

    def status(self) -> dict:
        """For /readyz: the candidate, why it was refused, and the scores stored, failed, dropped, waiting."""
        meta = self.holder.meta
        return {
            "version": meta["version"] if meta else None,
            "refused": self.holder.problem,
            "scored": self.scored,
            "failed": self.failed,
            "dropped": self.dropped,
            "waiting": len(self._queue),
            "problem": self.problem,
        }
