"""Rule trials: every candidate set of rule documents tried before it could go live, and its outcome.

A candidate is named by the hash of all its documents. In files mode the first worker to see a
change claims its trial; the others wait for the outcome and never judge the same content again,
so a change is published for everyone or refused for everyone. Publishes through the API record
their trials too, so `/readyz` can say what was last refused, where and why."""

import json
from datetime import datetime, timedelta

import sqlalchemy as sa

from app.store.database import UtcDateTime, metadata, utcnow

rule_trials = sa.Table(
    "rule_trials",
    metadata,
    sa.Column("digest", sa.String(64), primary_key=True),
    sa.Column("origin", sa.String(200), nullable=False),  # the rules folder, or the API
    sa.Column("author", sa.String(200), nullable=False),
    sa.Column("outcome", sa.String(16), nullable=False),  # trying, published, refused, unchanged
    sa.Column("problems", sa.Text, nullable=False),  # JSON list of {file, item, field, message}
    sa.Column("started_at", UtcDateTime, nullable=False),
    sa.Column("finished_at", UtcDateTime),
    sa.Index("ix_rule_trials_finished_at", "finished_at"),
)


class RuleTrials:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def get(self, digest: str) -> dict | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(rule_trials).where(rule_trials.c.digest == digest)).mappings().first()
        return _trial(row) if row else None

    def claim(self, digest: str, origin: str, author: str, stale_after: timedelta, again: bool) -> bool:
        """Start the trial of `digest`, unless another process is trying it or (without `again`) it
        was refused already; a trial left running longer than `stale_after` is taken over."""
        now = utcnow()
        with self.engine.begin() as conn:
            taken = conn.execute(
                sa.update(rule_trials)
                .where(
                    rule_trials.c.digest == digest,
                    ((rule_trials.c.outcome == "trying") & (rule_trials.c.started_at < now - stale_after))
                    | rule_trials.c.outcome.in_(("published", "interrupted"))  # content coming back is tried again
                    | ((rule_trials.c.outcome == "refused") & sa.literal(again)),
                )
                .values(outcome="trying", origin=origin, author=author, started_at=now, finished_at=None, problems="[]")
            ).rowcount
            if taken:
                return True
            try:
                with conn.begin_nested():
                    conn.execute(
                        sa.insert(rule_trials).values(
                            digest=digest, origin=origin, author=author, outcome="trying", problems="[]", started_at=now
                        )
                    )
            except sa.exc.IntegrityError:
                return False
        return True

    def finish(self, digest: str, outcome: str, problems: list[dict]) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sa.update(rule_trials)
                .where(rule_trials.c.digest == digest)
                .values(outcome=outcome, problems=json.dumps(problems, ensure_ascii=False), finished_at=utcnow())
            )

    def last_refused(self, after: datetime | None) -> dict | None:
        """The newest refusal finished after `after` (the last publish), if any."""
        query = sa.select(rule_trials).where(rule_trials.c.outcome == "refused")
        if after is not None:
            query = query.where(rule_trials.c.finished_at > after)
        with self.engine.connect() as conn:
            row = conn.execute(query.order_by(rule_trials.c.finished_at.desc()).limit(1)).mappings().first()
        return _trial(row) if row else None


def _trial(row) -> dict:
    return {**row, "problems": json.loads(row["problems"])}
