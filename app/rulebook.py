"""A rulebook: one consistent, validated, compiled version of every rule document."""
import hashlib
from dataclasses import dataclass
from pathlib import Path

from . import documents, pools, regions, routing, severity, sla, vocabulary
from .documents import Problem, RulesInvalid
from .engine import RuleEngine

# Each document is a YAML file in the rules folder, named after the file without its extension.
SCHEMAS = {
    "signals": vocabulary.SignalsSchema(),
    "severity": severity.SeveritySchema(),
    "regions": regions.RegionsSchema(),
    "pools": pools.PoolsSchema(),
    "routing": routing.RoutingSchema(),
    "sla": sla.SlaSchema(),
}


@dataclass(frozen=True)
class Rulebook:
    version: str
    vocabulary: vocabulary.Vocabulary
    severity: severity.SeverityPolicy
    engine: RuleEngine
    regions: regions.Regions
    pools: dict  # id -> Pool, in file order
    routes: tuple
    routing_engine: RuleEngine
    terms: sla.Terms
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
    problems += [Problem(f"{name}.yaml", "", "", "missing rule document") for name in SCHEMAS if name not in sources]
    docs = {}
    for name, schema in SCHEMAS.items():
        if name in sources:
            try:
                docs[name] = documents.load(f"{name}.yaml", sources[name], schema)
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
    policy = vocab and attempt(lambda: severity.build_policy("severity.yaml", docs["severity"], vocab.signals))
    segments = attempt(lambda: regions.build("regions.yaml", docs["regions"]))
    teams = segments and attempt(lambda: pools.build("pools.yaml", docs["pools"], segments))
    routes = vocab and teams and attempt(
        lambda: routing.build("routing.yaml", docs["routing"], segments, teams, vocab.signals))
    terms = attempt(lambda: sla.build("sla.yaml", docs["sla"]))
    if problems:
        raise RulesInvalid(problems)
    version = version_of(sources)
    return Rulebook(
        version, vocab, policy, RuleEngine(f"severity_{version}", severity.engine_rules(policy)),
        segments, teams, routes, RuleEngine(f"routing_{version}", routing.engine_rules(routes)), terms,
    )
