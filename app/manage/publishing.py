"""Rule management for ops: validate, publish (optimistic concurrency), roll back, and backtest a
proposed document against stored decisions, without touching what is live."""

import logging
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from app.decide.classify import classify_case
from app.decide.contract import CaseSchema
from app.manage import golden
from app.rulebook import book as rulebook
from app.rulelang.documents import Problem, RulesInvalid

log = logging.getLogger("triage.rules")
KINDS = ("severity", "pool", "respond_in", "due_at")


class NotFound(Exception):
    pass


class PreconditionRequired(Exception):
    pass


@dataclass
class Publisher:
    versions: Any  # database.RuleVersions, or None when the rules come from files
    live: Any  # live.LiveRulebook
    store: Any  # database.Store
    detector: Any  # language.LanguageDetector
    model: Any  # registry.LiveModel
    golden_dir: Path  # the golden cases

    # -- reading ----------------------------------------------------------------------------

    def documents(self) -> list[dict]:
        return [_summary(row) for _, row in sorted(self._versions().current().items())]

    def document(self, name: str) -> dict:
        row = self._versions().current().get(self._known(name))
        if row is None:
            raise NotFound(f"no published version of {name}")
        return {**_summary(row), "content": row["content"]}

    def history(self, name: str) -> list[dict]:
        return [_summary(row) for row in self._versions().history(self._known(name))]

    # -- checking ---------------------------------------------------------------------------

    def problems(self, name: str, content: str) -> list[Problem]:
        """Every problem the rulebook would have with `content` in place of the current document."""
        try:
            self.candidate(name, content)
        except RulesInvalid as exc:
            return exc.problems
        return []

    def candidate(self, name: str, content: str) -> rulebook.Rulebook:
        sources, _ = self.live.source.read()
        return rulebook.build({**sources, self._known(name): content})

    # -- changing ---------------------------------------------------------------------------

    def publish(self, name: str, content: str, comment: str, author: str, if_match: str | None) -> dict:
        """A new version, if `if_match` names the current one and the whole rulebook stays valid."""
        from app.store.database import Conflict

        name = self._known(name)
        versions = self._versions()
        if if_match is None:
            raise PreconditionRequired(f"send If-Match with the ETag of the version you edited (GET /v1/rules/{name})")
        expected = _number(if_match)
        current = versions.current().get(name)
        if expected != (current["number"] if current else None):
            raise Conflict(f"{name} is at version {current['number'] if current else None}; you edited {if_match}")
        problems = self.problems(name, content)
        if problems:
            raise RulesInvalid(problems)
        row = versions.publish(name, content, author, comment, expected)
        log.info("rules %s version %d published by %s: %s", name, row["number"], author, comment)
        self.live.check()  # this process at once; the others within their check interval
        return _summary(row)

    def import_documents(self, sources: dict[str, str], comment: str, author: str) -> list[dict]:
        """Publish every document of a folder that differs from the current one, all at once, after
        checking the whole set."""
        unknown = sorted(set(sources) - set(rulebook.SCHEMAS))
        if unknown:
            raise NotFound(f"no rule document {', '.join(unknown)}; documents are {', '.join(rulebook.SCHEMAS)}")
        current = self._versions().current()
        merged = {name: row["content"] for name, row in current.items()} | sources
        rulebook.build(merged)  # raises RulesInvalid with every problem
        changes = {
            name: (text, current[name]["number"] if name in current else None)
            for name, text in sources.items()
            if name not in current or current[name]["content"] != text
        }
        if not changes:
            return []
        rows = self._versions().publish_many(changes, author, comment)
        log.info("rules %s published by %s: %s", ", ".join(f"{r['name']}@{r['number']}" for r in rows), author, comment)
        self.live.check()
        return [_summary(row) for row in rows]

    def rollback(self, name: str, number: int, comment: str, author: str) -> dict:
        """Publish an earlier version's content again, as a new version (history is never rewritten)."""
        name = self._known(name)
        old = self._versions().get(name, number)
        if old is None:
            raise NotFound(f"{name} has no version {number}")
        current = self._versions().current()[name]
        return self.publish(name, old["content"], comment or f"rollback to version {number}", author, f'"{current["number"]}"')

    # -- backtest ---------------------------------------------------------------------------

    def backtest(
        self, name: str, content: str, limit: int = 1000, since: datetime | None = None, until: datetime | None = None
    ) -> dict:
        """Replay stored decisions at their original instants with the current rules and with the
        proposed document, and report what would change. Nothing live changes."""
        proposed = self.candidate(name, content)  # raises RulesInvalid with every problem
        current = self.live.get()
        model = self.model.get() if self.model else (None, None)
        model = model if model[0] is not None else None
        records = self.store.find(since=since, until=until, limit=limit).items
        changed, counts = [], dict.fromkeys(KINDS, 0)
        urgent = {"before": [0, 0], "after": [0, 0]}  # [urgent cases, of which on a closed pool]
        load = CaseSchema(clock=None).load  # stored cases replayed at their own instants
        for record in records:
            # the instant the customer reported, in the offset they sent it (the store keeps UTC)
            body = {**record["request"], "reported_at": record["request"].get("reported_at") or record["reported_at"].isoformat()}
            case = load(body)
            at = case.reported_at
            before = classify_case(case, current, self.detector, at, model)
            after = classify_case(case, proposed, self.detector, at, model)
            seen = {"before": before, "after": after}
            for key, decision in seen.items():
                if decision.routing.urgent:
                    urgent[key][0] += 1
                    urgent[key][1] += not decision.routing.open_now
            diff = {
                kind: [_value(before, kind), _value(after, kind)] for kind in KINDS if _value(before, kind) != _value(after, kind)
            }
            if diff:
                for kind in diff:
                    counts[kind] += 1
                changed.append({"decision_id": record["decision_id"], "reported_at": at.isoformat(), "changes": diff})
        outcomes = golden.run(golden.load(self.golden_dir), lambda c, now: classify_case(c, proposed, self.detector, now, model))
        return {
            "document": name,
            "cases": len(records),
            "changed": len(changed),
            "counts": counts,
            "urgent_on_closed_pool": {
                key: (round(closed / total, 4) if total else 0.0) for key, (total, closed) in urgent.items()
            },
            "changes": changed,
            "golden": {
                "passed": sum(o.passed for o in outcomes),
                "failed": [{"file": o.case.file, "name": o.case.name, "failures": o.failures} for o in outcomes if not o.passed],
            },
        }

    # -- helpers ----------------------------------------------------------------------------

    def _versions(self):
        if self.versions is None:
            from app.store.database import Conflict

            raise Conflict(
                "this instance reads its rules from files (TRIAGE_RULES_SOURCE=files): edit the files, "
                "or run with TRIAGE_RULES_SOURCE=database to publish versions"
            )
        return self.versions

    @staticmethod
    def _known(name: str) -> str:
        if name not in rulebook.SCHEMAS:
            raise NotFound(f"no rule document {name!r}; documents are {', '.join(rulebook.SCHEMAS)}")
        return name


def _value(decision, kind: str):
    return {
        "severity": decision.severity.level,
        "pool": decision.routing.pool.id,
        "respond_in": decision.routing.respond_in,
        "due_at": decision.sla.due_at.isoformat(),
    }[kind]


def _number(etag: str) -> int | None:
    text = etag.strip().removeprefix("W/").strip('"')
    return int(text) if text.isdigit() else -1


def etag(number: int) -> str:
    return f'"{number}"'


def _summary(row: dict) -> dict:
    return {
        "name": row["name"],
        "version": row["number"],
        "sha256": row["sha256"],
        "author": row["author"],
        "comment": row["comment"],
        "created_at": row["created_at"],
    }
