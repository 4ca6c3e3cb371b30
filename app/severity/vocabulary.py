"""Vocabularies: terms and patterns per language that raise named signals from a case's text.

Matching happens here, in Python, on the case's words (see text.words) with RE2 (linear time, no catastrophic
backtracking); the rule engine only ever sees the resulting short signal names.

Term syntax, chosen so that ops can write inflected languages without regular expressions:
- words are matched whole, after normalisation (case, diacritics and punctuation do not matter);
- a word ending in `*` is a stem: `nedostupn*` matches nedostupný, nedostupná, nedostupné, ...;
- `..` stands for up to three words in between: `nikt .. nie moze*`.
Patterns are RE2 expressions over the same text: lower-case words without diacritics, separated
by single spaces, with no punctuation left.
"""

import functools
import re
from dataclasses import dataclass
from typing import Any

import marshmallow as ma
import re2

from app.rulelang.documents import Problem, RulesInvalid
from app.severity.text import words as text_words

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False
_OPTIONS.max_mem = 32 << 20  # a signal's alternation over seven languages outgrows RE2's default 8 MB
# the text is words joined by single spaces, so word boundaries need no Unicode classes
_WORD = "[^ ]"
_SEP = " "
_GAP = " (?:[^ ]+ ){0,3}"
_NAME = re.compile(r"^[a-z][a-z0-9_]*$")


@dataclass(frozen=True)
class Hit:
    """A raised signal: what raised it (a vocabulary's language, or a case field) and the words matched."""

    signal: str
    source: str
    matched: str


@dataclass(frozen=True)
class _Matcher:
    signal: str
    groups: tuple[tuple[str, int], ...]  # each language and the number of its group in `pattern`
    pattern: Any  # a compiled re2 pattern
    exclusions: Any | None


class Vocabulary:
    """The compiled vocabularies of one rules version."""

    def __init__(self, languages: tuple[str, ...], descriptions: dict[str, str], matchers: list[_Matcher]):
        self.languages = languages
        self.descriptions = descriptions
        self._matchers = matchers

    @property
    def signals(self) -> frozenset[str]:
        return frozenset(self.descriptions)

    @functools.cached_property
    def covered(self) -> frozenset[str]:
        """The languages that have words (terms or patterns) for at least one signal."""
        return frozenset(lang for matcher in self._matchers for lang, _ in matcher.groups)

    def find(self, text: str) -> list[Hit]:
        """Every signal the text (as text.words gives it) raises, at most one hit per signal."""
        data = text.encode()  # once, rather than once per pattern inside the re2 wrapper
        hits = []
        for matcher in self._matchers:
            found = matcher.pattern.search(data)
            if found and matcher.exclusions:
                found = matcher.pattern.search(matcher.exclusions.sub(b" ", data))
            if found:
                language, group = next((lang, g) for lang, g in matcher.groups if found.group(g) is not None)
                hits.append(Hit(matcher.signal, language, found.group(group).decode()))
        return hits


# -- the document ---------------------------------------------------------------------------


class _Terms(ma.fields.Dict):
    def __init__(self, **kwargs):
        super().__init__(
            keys=ma.fields.String(),
            values=ma.fields.List(ma.fields.String(validate=ma.validate.Length(min=1)), validate=ma.validate.Length(min=1)),
            load_default=dict,
            **kwargs,
        )


class _SignalSchema(ma.Schema):
    description = ma.fields.String(required=True, validate=ma.validate.Length(min=1))
    terms = _Terms()
    patterns = _Terms()
    exclude_ = _Terms(data_key="exclude", attribute="exclude")  # Schema.exclude is taken


class SignalsDocument(ma.Schema):
    """signals.yaml: the languages the vocabularies cover and, per signal, its words in each."""

    languages = ma.fields.List(ma.fields.String(), required=True, validate=ma.validate.Length(min=1))
    signals = ma.fields.Dict(keys=ma.fields.String(), values=ma.fields.Nested(_SignalSchema), required=True)


def term_regex(term: str) -> str:
    """The RE2 expression for one term (see the module docstring for the syntax)."""
    tokens = term.split()
    parts = []
    for index, token in enumerate(tokens):
        if token == "..":
            if index in (0, len(tokens) - 1) or tokens[index - 1] == "..":
                raise ValueError("'..' must stand between two words")
            parts.append(_GAP)
            continue
        stem = token.endswith("*")
        core = text_words(token[:-1] if stem else token)
        if not core or "*" in token[:-1]:
            raise ValueError(f"{token!r} is not a word ('*' may only end a word)")
        if parts and parts[-1] != _GAP:
            parts.append(_SEP)
        parts.append(re2.escape(core) + (_WORD + "*" if stem else ""))
    if not parts:
        raise ValueError("empty term")
    return "".join(parts)


def compile_vocabulary(file: str, doc: dict) -> Vocabulary:
    """Compile a validated signals document; refuse bad names, languages, terms and patterns."""
    problems = []
    languages = tuple(doc["languages"])
    for lang in languages:
        if not re.fullmatch(r"[a-z]{2}", lang):
            problems.append(Problem(file, "", "languages", f"{lang!r} is not an ISO 639-1 code"))
    matchers, descriptions = [], {}
    for name, spec in doc["signals"].items():
        item = f"signals.{name}"
        problems_before = len(problems)
        if not _NAME.match(name):
            problems.append(Problem(file, item, "", "a signal name is lower-case letters, digits and _"))
        descriptions[name] = spec["description"]
        alternatives: dict[str, list[str]] = {}
        exclusions: list[str] = []
        for kind in ("terms", "patterns", "exclude"):
            for lang, entries in spec[kind].items():
                if lang not in languages:
                    problems.append(Problem(file, item, f"{kind}.{lang}", f"language {lang!r} is not in 'languages'"))
                    continue
                for index, entry in enumerate(entries):
                    try:
                        expr = entry if kind == "patterns" else term_regex(entry)
                        re2.compile(expr, _OPTIONS)
                    except (ValueError, re2.error) as exc:
                        problems.append(
                            Problem(file, item, f"{kind}.{lang}[{index}]", f"bad {kind[:-1]} {entry!r}: {_reason(exc)}")
                        )
                        continue
                    if kind == "exclude":
                        exclusions.append(expr)
                    else:
                        alternatives.setdefault(lang, []).append(expr)
        if not alternatives:
            if len(problems) == problems_before:
                problems.append(Problem(file, item, "terms", "a signal needs at least one term or pattern"))
            continue
        langs = tuple(alternatives)
        groups = "|".join(f"(?P<{lang}>" + "|".join(f"(?:{e})" for e in alternatives[lang]) + ")" for lang in langs)
        try:
            pattern = re2.compile(_bounded(groups).encode(), _OPTIONS)
            excluded = re2.compile(_bounded("|".join(exclusions)).encode(), _OPTIONS) if exclusions else None
        except re2.error as exc:
            problems.append(Problem(file, item, "", f"cannot compile the signal's vocabulary: {_reason(exc)}"))
            continue
        groups_by_language = tuple((lang, pattern.groupindex[lang.encode()]) for lang in langs)
        matchers.append(_Matcher(name, groups_by_language, pattern, excluded))
    if problems:
        raise RulesInvalid(problems)
    return Vocabulary(languages, descriptions, matchers)


def _bounded(alternatives: str) -> str:
    """Match the alternatives only as whole words: bounded by the text's ends or by non-letters."""
    return rf"(?:^|{_SEP})(?:{alternatives})(?:{_SEP}|$)"


def _reason(exc: Exception) -> str:
    text = exc.args[0] if exc.args else str(exc)
    return text.decode() if isinstance(text, bytes) else str(text)
