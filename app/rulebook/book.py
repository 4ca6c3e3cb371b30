"""A rulebook: one consistent, validated, compiled version of every rule document."""

import hashlib
from dataclasses import dataclass
from pathlib import Path

from app.routing import contracts, escalation, pools, regions, routes, sla
from app.rulelang import documents
from app.rulelang.documents import Problem, RulesInvalid
from app.rulelang.domain import MAX_SIGNALS, MAX_TARGET, MAX_VOCABULARY, MAX_WORDS
from app.rulelang.durable import DurableRuleset, EngineRefused
from app.severity import policy, vocabulary

# Each document is a YAML file in the rules folder, named after the file without its extension.
SCHEMAS = {
    "signals": vocabulary.SignalsDocument(),
    "severity": policy.SeverityDocument(),
    "regions": regions.RegionsDocument(),
    "pools": pools.PoolsDocument(),
    "routing": routes.RoutingDocument(),
    "sla": sla.SlaDocument(),
    "escalation": escalation.EscalationDocument(),
    "contracts": contracts.ContractsDocument(),
}
# Documents added after stores were first seeded: without one, nothing escalates and misses cost nothing.
OPTIONAL = {"escalation": "policies: []\n", "contracts": "{}\n"}


@dataclass(frozen=True)
class Rulebook:
    version: str
    vocabulary: vocabulary.Vocabulary
    severity: policy.SeverityPolicy
    severity_rules: DurableRuleset
    regions: regions.Regions
    pools: dict  # id -> Pool, in file order
    routes: tuple
    routing_rules: DurableRuleset
    terms: sla.Terms
    escalation: escalation.Escalation
    contracts: contracts.Contracts
    documents: str = ""  # the published document versions, when the rules come from the database


def read_sources(rules_dir: Path) -> dict[str, str]:
    """The text of every rule document in `rules_dir`, by document name."""
    return documents.read_texts(rules_dir)


def version_of(sources: dict[str, str]) -> str:
    """A content hash of all documents: equal texts give equal versions, in any process."""
    digest = hashlib.sha256()
    for name in sorted(sources):
        digest.update(name.encode() + b"\0" + sources[name].encode() + b"\0")
    return digest.hexdigest()[:12]


def build(sources: dict[str, str]) -> Rulebook:
    """Validate and compile every document; raise RulesInvalid with all the problems found."""
    problems = [Problem(f"{name}.yaml", "", "", "unknown rule document") for name in sources if name not in SCHEMAS]
    problems += [
        Problem(f"{name}.yaml", "", "", "missing rule document")
        for name in SCHEMAS
        if name not in sources and name not in OPTIONAL
    ]
    docs = {}
    for name, schema in SCHEMAS.items():
        if name in sources or name in OPTIONAL:
            try:
                docs[name] = documents.load(f"{name}.yaml", sources[name] if name in sources else OPTIONAL[name], schema)
            except RulesInvalid as exc:
                problems += exc.problems
    if "signals" in docs:
        problems += _vocabulary_limits(docs["signals"])
    if "sla" in docs:
        problems += [
            Problem("sla.yaml", f"plans.{plan}", f"targets.{level}", f"{minutes:,} minutes; at most {MAX_TARGET:,} (30 days)")
            for plan, spec in docs["sla"]["plans"].items()
            for level, minutes in spec["targets"].items()
            if minutes > MAX_TARGET
        ]
    if problems:
        raise RulesInvalid(problems)

    def attempt(step):
        try:
            return step()
        except RulesInvalid as exc:
            problems.extend(exc.problems)

    # a document whose inputs failed is cross-checked once they are fixed
    vocab = attempt(lambda: vocabulary.compile_vocabulary("signals.yaml", docs["signals"]))
    severity_policy = vocab and attempt(lambda: policy.build_policy("severity.yaml", docs["severity"], vocab.signals))
    segments = attempt(lambda: regions.build("regions.yaml", docs["regions"]))
    teams = segments and attempt(lambda: pools.build("pools.yaml", docs["pools"], segments))
    route_list = (
        vocab and teams and attempt(lambda: routes.build("routing.yaml", docs["routing"], segments, teams, vocab.signals))
    )
    terms = attempt(lambda: sla.build("sla.yaml", docs["sla"]))
    policies = attempt(lambda: escalation.build("escalation.yaml", docs["escalation"]))
    penalties = attempt(lambda: contracts.build("contracts.yaml", docs["contracts"]))
    if problems:
        raise RulesInvalid(problems)
    version = version_of(sources)
    return Rulebook(
        version,
        vocab,
        severity_policy,
        _engine("severity.yaml", f"severity_{version}", policy.engine_rules(severity_policy)),
        segments,
        teams,
        route_list,
        _engine("routing.yaml", f"routing_{version}", routes.engine_rules(route_list)),
        terms,
        policies,
        penalties,
    )


def _engine(file: str, label: str, rules: dict) -> DurableRuleset:
    """The document's rules compiled by the engine; what it refuses is a problem of the document."""
    try:
        return DurableRuleset(label, rules)
    except EngineRefused as exc:
        raise RulesInvalid([Problem(file, "rules", "", f"the rule engine refused the rules: {exc}")]) from None


def _vocabulary_limits(doc: dict) -> list[Problem]:
    """The signals document within the documented budget: how many signals, how long a term or
    pattern, how many characters in all (matching time is tried on publish: app.manage.trial)."""
    file, problems, total = "signals.yaml", [], 0
    if len(doc["signals"]) > MAX_SIGNALS:
        problems.append(Problem(file, "", "signals", f"{len(doc['signals'])} signals; at most {MAX_SIGNALS}"))
    for name, spec in doc["signals"].items():
        for kind in ("terms", "patterns", "exclude"):
            for lang, entries in spec[kind].items():
                for index, entry in enumerate(entries):
                    total += len(entry)
                    if len(entry) > MAX_WORDS:
                        problems.append(
                            Problem(
                                file,
                                f"signals.{name}",
                                f"{kind}.{lang}[{index}]",
                                f"{len(entry):,} characters; at most {MAX_WORDS:,}",
                            )
                        )
    if total > MAX_VOCABULARY:
        problems.append(Problem(file, "", "signals", f"{total:,} characters of terms and patterns; at most {MAX_VOCABULARY:,}"))
    return problems
