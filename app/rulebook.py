"""A rulebook: one consistent, validated, compiled version of every rule document."""
import hashlib
from dataclasses import dataclass
from pathlib import Path

from . import documents, severity, vocabulary
from .documents import Problem, RulesInvalid
from .engine import RuleEngine

# Each document is a YAML file in the rules folder, named after the file without its extension.
SCHEMAS = {
    "signals": vocabulary.SignalsSchema(),
    "severity": severity.SeveritySchema(),
}


@dataclass(frozen=True)
class Rulebook:
    version: str
    vocabulary: vocabulary.Vocabulary
    severity: severity.SeverityPolicy
    engine: RuleEngine


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
    vocab = vocabulary.compile_vocabulary("signals.yaml", docs["signals"])
    policy = severity.build_policy("severity.yaml", docs["severity"], vocab.signals)
    version = version_of(sources)
    engine = RuleEngine(f"severity_{version}", severity.engine_rules(policy))
    return Rulebook(version, vocab, policy, engine)
