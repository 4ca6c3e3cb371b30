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


class RulesInvalid(Exception):
    """The rule documents were refused; `problems` says why."""

    def __init__(self, problems: list[Problem]):
        self.problems = problems
        super().__init__("; ".join(str(p) for p in problems))


class _StrictLoader(getattr(yaml, "CSafeLoader", yaml.SafeLoader)):  # type: ignore[misc]
    """A safe loader (libyaml's parser where installed: six times faster on the bundled rules) that
    refuses duplicate keys instead of silently keeping the last one."""


def _construct_mapping(loader, node, deep=False):
    seen = set()
    for key_node, _ in node.value:
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


def duplicate_ids(file: str, collection: str, items: list[dict], kind: str) -> list[Problem]:
    """A Problem for every item whose id an earlier item of the list already has."""
    problems, seen = [], set()
    for item in items:
        if item["id"] in seen:
            problems.append(Problem(file, f"{collection}[{item['id']}]", "id", f"duplicate {kind} id {item['id']!r}"))
        seen.add(item["id"])
    return problems


def parse_yaml(file: str, text: str):
    """Parse YAML text strictly; a syntax error or a duplicate key becomes a Problem."""
    try:
        return yaml.load(text, Loader=_StrictLoader)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}, column {mark.column + 1}" if mark else ""
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
