"""Strict loading of the YAML rule documents, with problems that name the file, the item and the field."""

import re
from dataclasses import dataclass

import marshmallow
import yaml


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a rule document."""

    file: str
    item: str
    field: str
    message: str

    def __str__(self) -> str:
        where = ".".join(part for part in (self.item, self.field) if part)
        return f"{self.file}: {where or '(document)'}: {self.message}"

    def to_dict(self) -> dict:
        return {"file": self.file, "item": self.item, "field": self.field, "message": self.message}


MAX_PROBLEMS = 100  # problems reported at once; the rest are counted
MAX_MESSAGE = 400  # characters of one problem's message (a bad pattern is quoted in it)


class RulesInvalid(Exception):
    """The rule documents were refused; `problems` says why (at most MAX_PROBLEMS, each message
    at most MAX_MESSAGE characters)."""

    def __init__(self, problems: list[Problem]):
        shown = [_shortened(p) for p in problems[:MAX_PROBLEMS]]
        if len(problems) > MAX_PROBLEMS:
            shown.append(Problem(shown[-1].file, "", "", f"and {len(problems) - MAX_PROBLEMS} more problems"))
        self.problems = shown
        super().__init__("; ".join(str(p) for p in shown))


def _shortened(problem: Problem) -> Problem:
    if len(problem.message) <= MAX_MESSAGE:
        return problem
    return Problem(problem.file, problem.item[:200], problem.field[:200], problem.message[: MAX_MESSAGE - 1] + "…")


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A safe loader (libyaml's parser where installed: six times faster on the bundled rules) that
    refuses duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
        if key_node.tag == "tag:yaml.org,2002:merge":  # `<<: *defaults`, flattened by the base class
            continue
        if not isinstance(key_node, yaml.ScalarNode):
            raise yaml.constructor.ConstructorError(
                None, None, "a key must be a plain value, not a list or mapping", key_node.start_mark
            )
        key = loader.construct_object(key_node, deep=deep)
        if key in seen:
            raise yaml.constructor.ConstructorError(None, None, f"duplicate key {key!r}", key_node.start_mark)
        seen.add(key)
    return yaml.SafeLoader.construct_mapping(loader, node, deep=deep)


_StrictLoader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_mapping)

# Booleans as in YAML 1.2: only true and false. YAML 1.1 also reads yes/no/on/off, which turns
# Norway's country code NO into false.
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != "tag:yaml.org,2002:bool"]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver("tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def read_texts(folder, prefix: str = "") -> dict[str, str]:
    """The text of every YAML file in `folder` by `prefix` + file stem; a file that is not UTF-8 is
    a Problem, not a crash."""
    from pathlib import Path

    texts, problems = {}, []
    for path in sorted(Path(folder).glob("*.yaml")):
        try:
            texts[prefix + path.stem] = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            problems.append(Problem(f"{prefix}{path.name}", "", "", f"not UTF-8 text (byte {exc.start}); save it as UTF-8"))
    if problems:
        raise RulesInvalid(problems)
    return texts


def duplicate_ids(file: str, collection: str, items: list[dict], kind: str) -> list[Problem]:
    """A Problem for every item whose id an earlier item of the list already has."""
    problems, seen = [], set()
    for item in items:
        if item["id"] in seen:
            problems.append(Problem(file, f"{collection}[{item['id']}]", "id", f"duplicate {kind} id {item['id']!r}"))
        seen.add(item["id"])
    return problems


MAX_NODES = 100_000  # values in a document, with anchors and aliases expanded
MAX_DEPTH = 32  # lists and mappings within each other


def _where(mark) -> str:
    return f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""


def _expanded_size(file: str, node, sizes: dict) -> int:
    """The number of values `node` stands for with every alias written out (each node counted once per use)."""
    if sizes.get(id(node)) == 0:
        raise RulesInvalid([Problem(file, f"line {node.start_mark.line + 1}", "", "an alias refers to the value that holds it")])
    if id(node) not in sizes:
        sizes[id(node)] = 0  # in progress
        if isinstance(node, yaml.MappingNode):
            sizes[id(node)] = 1 + sum(_expanded_size(file, k, sizes) + _expanded_size(file, v, sizes) for k, v in node.value)
        elif isinstance(node, yaml.SequenceNode):
            sizes[id(node)] = 1 + sum(_expanded_size(file, item, sizes) for item in node.value)
        else:
            sizes[id(node)] = 1
    return sizes[id(node)]


def parse_yaml(file: str, text: str):
    """Parse YAML text strictly; a syntax error, a duplicate or complex key, or a document larger
    than MAX_NODES once its aliases are expanded becomes a Problem (a few hundred bytes of nested
    aliases expand to gigabytes)."""
    try:
        depth = 0
        for event in yaml.parse(text, Loader=_StrictLoader):  # events first: composing recurses
            if isinstance(event, (yaml.MappingStartEvent, yaml.SequenceStartEvent)):
                depth += 1
                if depth > MAX_DEPTH:
                    raise RulesInvalid([Problem(file, _where(event.start_mark), "", f"nested more than {MAX_DEPTH} deep")])
            elif isinstance(event, (yaml.MappingEndEvent, yaml.SequenceEndEvent)):
                depth -= 1
        loader = _StrictLoader(text)
        try:
            node = loader.get_single_node()
            if node is None:
                return None
            size = _expanded_size(file, node, {})
            if size > MAX_NODES:
                raise RulesInvalid(
                    [Problem(file, "", "", f"{size:,} values once anchors and aliases are expanded; at most {MAX_NODES:,}")]
                )
            return loader.construct_document(node)
        finally:
            loader.dispose()
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = _where(mark)
        message = getattr(exc, "problem", None) or str(exc)
        raise RulesInvalid([Problem(file, where, "", f"invalid YAML: {message}")]) from None


def load(file: str, text: str, schema: marshmallow.Schema, item_key: str = "id"):
    """Parse and validate one document with `schema`; unknown keys and bad values become Problems."""
    data = parse_yaml(file, text)
    if not isinstance(data, dict):
        raise RulesInvalid([Problem(file, "", "", "the document must be a mapping")])
    # top-level keys starting with "x-" only hold YAML anchors for reuse (as in docker-compose)
    data = {key: value for key, value in data.items() if not str(key).startswith("x-")}
    try:
        return schema.load(data)
    except marshmallow.ValidationError as err:
        raise RulesInvalid(problems_from(file, err.messages, data, item_key)) from None


def problems_from(file: str, messages, data, item_key: str = "id") -> list[Problem]:
    """Flatten marshmallow's nested messages into Problems; list items are named by their id."""
    problems = []

    def walk(node, path):
        if isinstance(node, dict):
            for key, sub in node.items():
                # marshmallow's Dict field nests its errors under "key" and "value"
                walk(sub, path if key in ("key", "value") else path + [key])
        elif isinstance(node, list):
            for sub in node:
                walk(sub, path)
        else:
            problems.append(_problem(file, path, data, item_key, str(node)))

    walk(messages, [])
    return problems


def _child(raw, key):
    try:
        return raw[key]
    except (KeyError, IndexError, TypeError):
        return None


def _problem(file, path, data, item_key, message) -> Problem:
    if not path:
        return Problem(file, "", "", message)
    if path[0] == "_schema":
        return Problem(file, "", "", message)
    if len(path) == 1:
        return Problem(file, "", str(path[0]), message)
    collection, key, rest = path[0], path[1], path[2:]
    item = f"{collection}[{key}]"
    entry = _child(_child(data, collection), key)
    if isinstance(key, int) and isinstance(entry, dict) and isinstance(entry.get(item_key), str):
        item = f"{collection}[{entry[item_key]}]"
    elif not isinstance(key, int):
        item = f"{collection}.{key}"
    field = ""
    for part in rest:
        if part != "_schema":
            field += f"[{part}]" if isinstance(part, int) else (f".{part}" if field else str(part))
    return Problem(file, item, field, message)
