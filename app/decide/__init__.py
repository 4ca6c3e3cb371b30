"""Deciding one case: the case and decision contract and `classify_case` (severity, then region,
deadline and pool). May import app.rulebook and everything below it."""
