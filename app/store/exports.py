"""Stored decisions as analysts take them: one row a decision, the latest correction winning as the label."""

import csv
import io
import json

COLUMNS = (
    "decision_id",
    "decided_at",
    "reported_at",
    "customer_id",
    "plan",
    "country",
    "language",
    "subject",
    "description",
    "severity",
    "source",
    "pool",
    "corrected_severity",
    "corrected_pool",
    "label",
)


def row(record: dict) -> dict:
    """What analysts train on: the correction (when there is one) wins over the assigned level."""
    body, answer = record["request"], record["answer"]
    return {
        "decision_id": record["decision_id"],
        "decided_at": record["decided_at"].isoformat(),
        "reported_at": record["reported_at"].isoformat(),
        "customer_id": record["customer_id"],
        "plan": record["plan"],
        "country": body["customer"]["country"],
        "language": answer["language"]["code"],
        "subject": body["subject"],
        "description": body["description"],
        "severity": record["severity"],
        "source": record["source"],
        "pool": record["pool"],
        "corrected_severity": record["corrected_severity"],
        "corrected_pool": record["corrected_pool"],
        "label": record["corrected_severity"] or record["severity"],
    }


def text(records, fmt: str) -> str:
    rows = (row(record) for record in records)
    if fmt == "jsonl":
        return "".join(json.dumps(row, ensure_ascii=False) + "\n" for row in rows)
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=COLUMNS)
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
