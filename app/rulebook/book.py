"""A rulebook: one consistent, validated, compiled version of every rule document."""

import hashlib
from dataclasses import dataclass
from pathlib import Path

from app.routing import contracts, escalation, pools, regions, routes, sla
from app.rulelang import documents
from app.rulelang.documents import Problem, RulesInvalid
from app.rulelang.durable import DurableRuleset
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
    return {path.stem: path.read_text(encoding="utf-8") for path in sorted(Path(rules_dir).glob("*.yaml"))}


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
        DurableRuleset(f"severity_{version}", policy.engine_rules(severity_policy)),
        segments,
        teams,
        route_list,
        DurableRuleset(f"routing_{version}", routes.engine_rules(route_list)),
        terms,
        policies,
        penalties,
    )
