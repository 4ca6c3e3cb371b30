"""Shadow scores: a candidate model's level and confidence for a stored decision, kept beside it and
never used, and how they compare with what was decided (app.classifier.shadow scores them).

A score names its decision without a foreign key: the shadow thread may store it before the
decision is written (or while the decision waits in the spool); a score whose decision never arrived
is left out of every comparison."""

from collections import Counter
from datetime import datetime

import sqlalchemy as sa

from app.store.database import UtcDateTime, decisions, feedback, metadata

shadow_scores = sa.Table(
    "shadow_scores",
    metadata,
    sa.Column("decision_id", sa.String(36), nullable=False),
    sa.Column("model_version", sa.String(64), nullable=False),
    sa.Column("level", sa.Integer, nullable=False),
    sa.Column("confidence", sa.Float, nullable=False),
    sa.Column("scored_at", UtcDateTime, nullable=False),
    sa.PrimaryKeyConstraint("decision_id", "model_version", name="pk_shadow_scores"),
    sa.Index("ix_shadow_scores_scored_at", "scored_at"),
)


class ShadowScores:
    def __init__(self, engine: sa.Engine):
        self.engine = engine

    def add(self, rows: list[dict]) -> int:
        """Store scores (decision_id, model_version, level, confidence, scored_at); a decision
        already scored by the same model keeps its first score. Returns how many were new."""
        if not rows:
            return 0
        if self.engine.dialect.name == "postgresql":
            from sqlalchemy.dialects.postgresql import insert
        else:
            from sqlalchemy.dialects.sqlite import insert  # type: ignore[assignment]
        statement = insert(shadow_scores).on_conflict_do_nothing(index_elements=["decision_id", "model_version"])
        with self.engine.begin() as conn:  # RETURNING counts what was new (rowcount of a batch is -1 on psycopg)
            return len(conn.execute(statement.returning(shadow_scores.c.decision_id), rows).all())

    def scores(self, decision_id: str) -> list[dict]:
        query = sa.select(shadow_scores).where(shadow_scores.c.decision_id == decision_id).order_by(shadow_scores.c.scored_at)
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]

    def compare(self, since: datetime | None = None) -> dict:
        """For the decisions made since `since` that have shadow scores, per shadow model version:
        how often its level agrees with the active model's (severity.classifier.level in the stored
        answer, where a model answered), with the final level (decisions.severity: the rules, the
        model through a rule, or the declared level) and with engineers' corrections (the latest
        feedback that gives a severity); for the corrected decisions also how often the final level
        and the active model agreed with the correction, as the baseline to beat."""
        corrected = (
            sa.select(feedback.c.decision_id, sa.func.max(feedback.c.id).label("id"))
            .where(feedback.c.severity.is_not(None))
            .group_by(feedback.c.decision_id)
            .subquery()
        )
        query = (
            sa.select(
                shadow_scores.c.model_version,
                shadow_scores.c.level,
                decisions.c.severity,
                decisions.c.model_version.label("active_version"),
                decisions.c.classifier_level.label("active_level"),
                feedback.c.severity.label("corrected"),
            )
            .join(decisions, decisions.c.decision_id == shadow_scores.c.decision_id)
            .outerjoin(corrected, corrected.c.decision_id == decisions.c.decision_id)
            .outerjoin(feedback, feedback.c.id == corrected.c.id)
            .order_by(shadow_scores.c.model_version)
        )
        if since is not None:
            query = query.where(decisions.c.decided_at >= since)
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        models: dict[str, list] = {}
        for row in rows:
            models.setdefault(row["model_version"], []).append(row)
        return {"since": since, "models": [_summary(version, scored) for version, scored in models.items()]}


def _agreement(pairs: list[tuple]) -> dict:
    compared = len(pairs)
    agree = sum(1 for a, b in pairs if a == b)
    return {"compared": compared, "agree": agree, "rate": round(agree / compared, 4) if compared else None}


def _summary(version: str, rows: list) -> dict:
    with_model = [row for row in rows if row["active_level"] is not None]
    corrected = [row for row in rows if row["corrected"] is not None]
    return {
        "model_version": version,
        "decisions": len(rows),
        "active_model": {
            **_agreement([(row["level"], row["active_level"]) for row in with_model]),
            "versions": dict(Counter(row["active_version"] for row in with_model)),
        },
        "final_level": _agreement([(row["level"], row["severity"]) for row in rows]),
        "corrections": {
            **_agreement([(row["level"], row["corrected"]) for row in corrected]),
            "final_level_agree": sum(1 for row in corrected if row["severity"] == row["corrected"]),
            "active_model_compared": sum(1 for row in corrected if row["active_level"] is not None),
            "active_model_agree": sum(1 for row in corrected if row["active_level"] == row["corrected"]),
        },
        "levels": {
            "shadow": _counts(row["level"] for row in rows),
            "final": _counts(row["severity"] for row in rows),
        },
    }


def _counts(levels) -> dict:
    return {str(level): count for level, count in sorted(Counter(levels).items())}
