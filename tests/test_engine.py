import pytest

from app.rulelang.durable import DurableRuleset


def test_every_matching_rule_fires_once_in_priority_order():
    engine = DurableRuleset(
        "t",
        {
            "late": (3, [{"$ex": {"signal.a": 1}}]),
            "early": (1, [{"$or": [{"$ex": {"signal.a": 1}}, {"$ex": {"signal.b": 1}}]}]),
            "never": (2, [{"$ex": {"signal.z": 1}}]),
            "always": (4, []),
        },
    )
    assert engine.evaluate({"signal": {"a": True, "b": True}}) == ["early", "late", "always"]
    assert engine.evaluate({"signal": {}}) == ["always"]


def test_no_match_is_an_empty_list():
    engine = DurableRuleset("t", {"x": (1, [{"plan": "premium"}])})
    assert engine.evaluate({"plan": "basic"}) == []


def test_states_are_freed_beyond_the_1024_limit():
    engine = DurableRuleset("t", {"x": (1, [{"plan": "premium"}])})
    for index in range(3000):
        assert engine.evaluate({"plan": "premium" if index % 2 else "basic"}) == (["x"] if index % 2 else [])


def test_same_label_twice_gets_distinct_rulesets_and_close_frees():
    first, second = DurableRuleset("same", {"x": (1, [])}), DurableRuleset("same", {"x": (1, [])})
    assert first.name != second.name
    first.close()
    first.close()
    with pytest.raises(RuntimeError):
        first.evaluate({})
    assert second.evaluate({}) == ["x"]


def test_unmatched_facts_never_corrupt_the_process():
    """durable_rules corrupts the heap when a fact no rule handles has its state deleted; the adapter's
    catch-all rule prevents it. Run in a child process (with the whole app imported, which is where
    the corruption showed) so that a crash fails this test instead of killing the test run."""
    import subprocess
    import sys

    script = (
        "import app\n"
        "from app.rulelang.durable import DurableRuleset\n"
        "e = DurableRuleset('t', {'r': (1, [{'plan': 'basic'}]), 'o': (2, [{'$or': [{'environment': 'production'}]}])})\n"
        "facts = [{}, {'plan': 'premium'}, {'environment': 'other'}, {'other': 1}]\n"
        "assert all(e.evaluate(facts[i % 4]) == [] for i in range(4000))\n"
        "assert e.evaluate({'plan': 'basic', 'environment': 'production'}) == ['r', 'o']\n"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-2000:]
