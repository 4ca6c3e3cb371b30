"""The durable_rules adapter: a compiled JSON ruleset evaluated against one fact at a time.

What this module knows about durable_rules 2.0.28, measured on our machines:
- it goes through the extension's low-level calls (about 3x faster than the Host wrapper), with
  no actions and no polling thread;
- a ruleset name can be created only once per process, so each compiled version gets a unique
  name and is deleted when it is replaced;
- each evaluation uses a fresh state id that is always deleted (at most 1,024 live states);
- the extension is not thread-safe and never releases the GIL: a lock serialises calls;
- a rule with an `$or` fires once per alternative that holds: ids are reported once;
- a fact that no rule handles leaves a state that delete_state frees wrongly (heap corruption,
  seen as free(): invalid pointer or a segfault in a larger process), and not deleting it leaks
  a state: so a catch-all rule makes sure every fact is handled, and is left out of the results;
- every rule carries a discriminator so it can never match the engine's own state object, and
  conditions are ANDed flatly with it (an empty nested `$and` makes a rule fire twice);
- the extension corrupts its heap (SIGABRT/SIGSEGV) when one fact fires too many rules in a
  ruleset: 65 rules of one alternative each, 64 rules of two, 16 rules of 63 alternatives, or one
  rule of 65 alternatives (an `$or` fires once per alternative that holds); 16 rules of 32
  alternatives each hold. So the rules are evaluated in groups of at most GROUP rules, one
  extension ruleset each, and validation bounds an `$or` to MAX_ALTERNATIVES (limits.py); a fact
  may not hold more than 254 properties in one object (error 309), so signals are bounded too.
"""

import copy
import itertools
import json
import threading

import durable_rules_engine

DISCRIMINATOR = {"kind": "case"}
_CATCH_ALL = "_catch_all"  # rule ids of ours never contain "_", so it cannot clash
_LAST = 1 << 30
_names = itertools.count(1)
GROUP = 16  # rules per extension ruleset


class EngineRefused(ValueError):
    """The extension would not compile a ruleset (an error code, not a crash)."""


class DurableRuleset:
    """Rules evaluated by durable_rules; `evaluate` returns the ids of every rule a fact matches, in
    priority order (rules of equal priority in the order given)."""

    def __init__(self, label: str, rules: dict[str, tuple[int, list[dict]]]):
        """`rules` maps a rule id to its priority (lower fires first) and its list of conditions (ANDed)."""
        self.name = f"{label}_{next(_names)}"
        items = list(rules.items())
        self._order = {rule_id: (priority, index) for index, (rule_id, (priority, _)) in enumerate(items)}
        self._groups = [
            _Group(f"{self.name}_{start // GROUP}", dict(items[start : start + GROUP]))
            for start in range(0, max(len(items), 1), GROUP)
        ]

    def evaluate(self, fact: dict) -> list[str]:
        """Assert `fact` (without a discriminator or sid: both are added) and collect every rule that fires."""
        fired = [rule_id for group in self._groups for rule_id in group.evaluate(fact)]
        return sorted(fired, key=self._order.__getitem__) if len(self._groups) > 1 else fired

    def close(self) -> None:
        """Free the rulesets in the extension; safe to call twice."""
        for group in self._groups:
            group.close()


class _Group:
    """One extension ruleset of at most GROUP rules and a catch-all."""

    def __init__(self, name: str, rules: dict[str, tuple[int, list[dict]]]):
        self.name = name
        self.definition = {
            rule_id: {"pri": priority, "all": [{"m": {"$and": [dict(DISCRIMINATOR), *copy.deepcopy(conditions)]}}]}
            for rule_id, (priority, conditions) in rules.items()
        }
        self.definition[_CATCH_ALL] = {"pri": _LAST, "all": [{"m": dict(DISCRIMINATOR)}]}
        self._lock = threading.Lock()
        self._sids = itertools.count(1)
        try:
            self._handle = durable_rules_engine.create_ruleset(self.name, json.dumps(self.definition, ensure_ascii=False))
        except durable_rules_engine.error as exc:
            self._handle = None
            raise EngineRefused(str(exc)) from None

    def evaluate(self, fact: dict) -> list[str]:
        with self._lock:
            if self._handle is None:
                raise RuntimeError(f"ruleset {self.name} is closed")
            sid = str(next(self._sids))
            payload = json.dumps({**fact, **DISCRIMINATOR, "sid": sid}, ensure_ascii=False)
            fired = []
            try:
                result = durable_rules_engine.assert_fact(self._handle, payload)
                action = durable_rules_engine.start_action_for_state(self._handle, result[1])
                message = action[1] if action else None
                while message:
                    # the message is '{"<rule id>":{...}}'; rule ids are validated to need no escaping
                    rule_id = message[2 : message.index('"', 2)]
                    if rule_id not in fired and rule_id != _CATCH_ALL:
                        fired.append(rule_id)
                    message = durable_rules_engine.complete_and_start_action(self._handle, result[1])
            finally:
                durable_rules_engine.delete_state(self._handle, sid)
            return fired

    def close(self) -> None:
        with self._lock:
            if self._handle is not None:
                durable_rules_engine.delete_ruleset(self._handle)
                self._handle = None

    def __del__(self):
        try:
            self.close()
        except Exception:  # at interpreter exit the extension may already be gone
            pass
