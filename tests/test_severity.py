"""Severity documents: strict validation with the place named, rule semantics, combine()."""

import pytest

from app.rulebook import book as rulebook
from app.rulelang.documents import RulesInvalid
from app.rulelang.durable import DurableRuleset
from app.severity.policy import SeverityPolicy, SeverityRule, combine, engine_rules

from .conftest import RULES


def problems_for(severity_yaml: str, signals_yaml: str | None = None):
    sources = rulebook.read_sources(RULES)
    sources["severity"] = severity_yaml
    if signals_yaml is not None:
        sources["signals"] = signals_yaml
    with pytest.raises(RulesInvalid) as exc:
        rulebook.build(sources)
    return [(p.file, p.item, p.field, p.message) for p in exc.value.problems]


HEAD = "levels: {1: a, 2: b, 3: c, 4: d}\ndefault_level: 3\nrules:\n"


@pytest.mark.parametrize(
    "rule, item, field, words",
    [
        ("- {id: r1, level: 5, description: x, when: {}}", "rules[r1]", "level", "1, 2, 3 or 4"),
        (
            "- {id: r1, level: 1, description: x, when: {signals: {all: [outge]}}}",
            "rules[r1]",
            "when.signals.all",
            "undefined signal 'outge'",
        ),
        ("- {id: r1, level: 1, description: x, when: {colour: {in: [red]}}}", "rules[r1]", "when.colour", "Unknown field"),
        ("- {id: r1, level: 1, description: x, when: {}, extra: 1}", "rules[r1]", "extra", "Unknown field"),
        ("- {id: r1, level: 1, description: x, when: {plan: {in: [gold]}}}", "rules[r1]", "when.plan.in", "'gold' is not one of"),
        ("- {id: r1, level: 1, description: x, when: {plan: {gte: 2}}}", "rules[r1]", "when.plan", "only to numbers"),
        (
            "- {id: r1, level: 1, description: x, when: {signals: {all: [outage], none: [outage]}}}",
            "rules[r1]",
            "when.signals",
            "can never match",
        ),
        ("- {id: r1, level: 1, description: x, when: {country: {in: [de]}}}", "rules[r1]", "when.country.in", "upper case"),
        (
            "- {id: r1, level: 1, description: x, when: {product_area: {not_in: [Finance]}}}",
            "rules[r1]",
            "when.product_area.not_in",
            "lower case",
        ),
        ("- {id: Bad Id, level: 1, description: x, when: {}}", "rules[Bad Id]", "id", "lower-case"),
    ],
)
def test_bad_rules_are_refused_naming_file_item_and_field(rule, item, field, words):
    [(file, got_item, got_field, message)] = problems_for(HEAD + rule)
    assert (file, got_item, got_field) == ("severity.yaml", item, field)
    assert words in message


def test_duplicate_rule_ids_and_duplicate_yaml_keys_are_refused():
    dup = HEAD + "- {id: r1, level: 1, description: x, when: {}}\n- {id: r1, level: 2, description: y, when: {}}"
    assert problems_for(dup) == [("severity.yaml", "rules[r1]", "id", "duplicate rule id 'r1'")]
    [(file, item, _, message)] = problems_for(HEAD + "- {id: r1, level: 1, level: 2, description: x, when: {}}")
    assert file == "severity.yaml" and "line 4" in item and "duplicate key 'level'" in message


def test_levels_must_name_exactly_one_to_four_and_problems_from_all_documents_are_reported():
    found = problems_for("levels: {1: a, 2: b}\ndefault_level: 3\nrules: []", "languages: [en]\nsignals: {}\nbogus: 1")
    assert ("severity.yaml", "", "levels", "name each of the levels 1, 2, 3 and 4, and no other") in found
    assert ("signals.yaml", "", "bogus", "Unknown field.") in found


def _evaluate(when: dict, fact: dict) -> bool:
    policy = SeverityPolicy({1: "a", 2: "b", 3: "c", 4: "d"}, 3, (SeverityRule("r", 1, "x", when),))
    return DurableRuleset("t", engine_rules(policy)).evaluate(fact) == ["r"]


@pytest.mark.parametrize(
    "when, fact, holds",
    [
        ({"environment": {"not_in": ["non-production"]}}, {}, True),  # absent is "not in" any list
        ({"environment": {"not_in": ["non-production"]}}, {"environment": "non-production"}, False),
        ({"environment": {"in": ["production"]}}, {}, False),
        ({"declared_severity": {"lte": 2}}, {"declared_severity": 2}, True),
        ({"declared_severity": {"lte": 2}}, {"declared_severity": 3}, False),
        ({"declared_severity": {"lte": 2}}, {}, False),
        ({"declared_severity": {"present": False}}, {}, True),
        ({"signals": {"none": ["outage"]}}, {"signal": {}}, True),
        ({"signals": {"none": ["outage"]}}, {"signal": {"outage": True}}, False),
        ({"signals": {"any": ["a", "b"], "all": ["c"]}}, {"signal": {"b": True, "c": True}}, True),
        ({"signals": {"any": ["a", "b"], "all": ["c"]}}, {"signal": {"b": True}}, False),
    ],
)
def test_conditions_hold_as_documented(when, fact, holds):
    assert _evaluate(when, fact) is holds


POLICY = SeverityPolicy({1: "outage", 2: "degraded", 3: "disturbance", 4: "advice"}, 3, ())
SLOW = SeverityRule("slow", 3, "Slow", {})
DOWN = SeverityRule("down", 1, "Down", {})


def test_most_severe_match_wins_and_all_are_reported():
    severity = combine(POLICY, [SLOW, DOWN], None)
    assert (severity.level, severity.source, [r.id for r in severity.matched_rules]) == (1, "rules", ["down", "slow"])
    assert severity.note is None


def test_provider_classification_prevails_over_declared_and_says_why():
    severity = combine(POLICY, [SLOW], 1)
    assert (severity.level, severity.declared) == (3, 1)
    assert "Declared 1" in severity.note and "'slow'" in severity.note and "prevails" in severity.note


def test_without_rules_declared_then_default():
    assert (combine(POLICY, [], 2).level, combine(POLICY, [], 2).source) == (2, "declared")
    default = combine(POLICY, [], None)
    assert (default.level, default.source, default.declared) == (3, "default", None)


def test_the_set_aside_note_ends_the_severity_note():
    assert combine(POLICY, [SLOW], None, set_aside="The newest text decided: a signature (2 lines) set aside.").note == (
        "The newest text decided: a signature (2 lines) set aside."
    )
    severity = combine(POLICY, [SLOW], 1, set_aside="The newest text decided: x set aside.")
    assert severity.note.startswith("Declared 1") and severity.note.endswith("x set aside.")


# -- mail: the newest text decides ----------------------------------------------------------

OUTLOOK = """Hi team,

now nobody can open the invoicing module at all.

Kind regards,
Sarah
Head of Finance | Example Ltd.
This e-mail is confidential. If you are not the intended recipient, delete it.

-----Original Message-----
From: Sarah <s@example.com>
Sent: Tuesday, November 4, 2026 10:12 AM
Subject: Invoice list

the list loads slowly sometimes
"""


@pytest.mark.parametrize(
    "description, newest, quoted",
    [
        (OUTLOOK, "Hi team,\n\nnow nobody can open the invoicing module at all.", True),
        ("Still down.\n\nOn Tue, 4 Nov 2026 at 10:12, Sarah <s@example.com> wrote:\n> slow sometimes\n", "Still down.", True),
        ("Still down.\n\nOn Tue, 4 Nov 2026 at 10:12, Sarah Whitfield <\ns@example.com> wrote:\n> slow\n", "Still down.", True),
        ("Läuft wieder.\n\nAm 04.11.2026 um 10:12 schrieb Max Muster <m@example.de>:\n> Ausfall\n", "Läuft wieder.", True),
        ("Работает.\n\n4 ноября 2026 г., в 10:12, Иван <i@example.ru> написал(а):\n> упал\n", "Работает.", True),
        ("Działa.\n\nW dniu 4.11.2026 o 10:12 Jan <j@example.pl> napisał(a):\n> awaria\n", "Działa.", True),
        ("Funguje.\n\nDne 4. 11. 2026 v 10:12 Jan <j@example.cz> napsal(a):\n> výpadek\n", "Funguje.", True),
        ("Virker.\n\nDen 4. nov. 2026 kl. 10.12 skrev Jens <j@example.dk>:\n> nede\n", "Virker.", True),
        ("Funciona.\n\nEl mar, 4 nov 2026 a las 10:12, Ana (<a@example.es>) escribió:\n> caído\n", "Funciona.", True),
        ("Ça marche.\n\nLe mar. 4 nov. 2026 à 10:12, Marie <m@example.fr> a écrit :\n> panne\n", "Ça marche.", True),
        ("Funciona.\n\nEm ter., 4 de nov. de 2026 às 10:12, Ana <a@example.pt> escreveu:\n> caiu\n", "Funciona.", True),
        ("Funziona.\n\nIl giorno mar 4 nov 2026 alle 10:12 Luca <l@example.it> ha scritto:\n> giù\n", "Funziona.", True),
        ("Werkt.\n\nOp di 4 nov. 2026 om 10:12 schreef Piet <p@example.nl>:\n> plat\n", "Werkt.", True),
        (
            "Sudah normal.\n\nPada tanggal Sel, 4 Nov 2026 pukul 10.12 Budi <b@example.id> menulis:\n> down\n",
            "Sudah normal.",
            True,
        ),
        (
            "Neu.\n\nVon: Max <m@example.de>\nGesendet: Dienstag, 4. November 2026 10:12\nAn: Support\nBetreff: alt\n\nalt",
            "Neu.",
            True,
        ),
        ("Новое.\n\nОт: Иван\nОтправлено: 4 ноября 2026 г. 10:12\nКому: support\nТема: старое\n\nстарое", "Новое.", True),
        ("Nowe.\n\nOd: Jan\nWysłano: wtorek, 4 listopada 2026 10:12\nDo: support\nTemat: stare\n\nstare", "Nowe.", True),
        ("Nuevo.\n\n> viejo\n> más viejo\n", "Nuevo.", True),
        ("Nothing quoted here.\nFrom: our side nothing changed.", "Nothing quoted here.\nFrom: our side nothing changed.", False),
    ],
)
def test_mail_splits_the_newest_text_from_quoted_history(description, newest, quoted):
    from app.severity.mail import split

    mail = split("RE: subject", description)
    assert mail.newest == newest
    assert bool(mail.quoted_lines) is quoted


def test_mail_sets_aside_signature_and_disclaimer_and_says_so():
    from app.severity.mail import split

    mail = split("Invoice", OUTLOOK)
    assert (mail.signature_lines, mail.quoted_lines) == (4, 5)
    assert mail.note == "The newest text decided: quoted earlier messages (5 lines) and a signature (4 lines) set aside."
    assert split("x", "Server down.").note is None
    disclaimer = split("x", "Server down.\n\nThis message is confidential and meant for the intended recipient only.")
    assert disclaimer.newest == "Server down." and disclaimer.disclaimer_lines == 1


def test_a_closing_word_at_the_start_or_inside_a_sentence_is_not_a_signature():
    from app.severity.mail import split

    assert split("x", "Thanks for the quick answer, but the server is down again.").newest.endswith("down again.")
    assert split("x", "Thanks,\nthe server is down.").newest == "Thanks,\nthe server is down."


def test_a_bare_forward_is_read_whole():
    from app.severity.mail import split

    text = "-----Original Message-----\nFrom: a\nSent: today\n\nThe server is down."
    mail = split("FW: server", text)
    assert mail.newest == text and mail.note is None


def test_a_reply_subject_is_read_only_when_the_newest_text_says_nothing(app):
    from app.severity.mail import signals, split

    vocabulary = app.extensions["triage"].rulebook.get().vocabulary
    quiet = split("RE: Server down", "Any news?\n\nOn Mon, 2 Nov 2026, Sarah <s@example.com> wrote:\n> down")
    assert {h.signal for h in signals(quiet, vocabulary)} >= {"outage"}
    news = split("RE: Server down", "It works again, thanks. How do I export the log?")
    assert "outage" not in {h.signal for h in signals(news, vocabulary)}
    assert [h.source for h in signals(split("x", "¿Desde qué menú?"), vocabulary) if h.signal == "question"] == ["punctuation"]
    assert not [h for h in signals(split("x", "Hur gör jag?"), vocabulary, read=False) if h.source == "punctuation"]


def test_a_decision_on_a_mail_says_what_was_set_aside_and_keeps_the_declared_level(app):
    from app.decide.contract import CaseSchema

    triage = app.extensions["triage"]
    customer = {"id": "mail", "plan": "premium", "country": "GB"}
    follow_up = CaseSchema().load(
        {"subject": "RE: Invoice list slow", "description": OUTLOOK, "customer": customer, "declared_severity": 3}
    )
    decision = triage.classify(follow_up, follow_up.reported_at)
    assert decision.severity.level == 1 and decision.severity.declared == 3
    assert "slow" not in decision.signals  # only the quoted mail said so
    assert decision.severity.note.endswith("quoted earlier messages (5 lines) and a signature (4 lines) set aside.")
    shouted = CaseSchema().load(
        {"subject": "URGENT!!! How do I add a user?", "description": "Where is it?", "customer": customer, "declared_severity": 1}
    )
    severity = triage.classify(shouted, shouted.reported_at).severity
    assert (severity.level, severity.declared, severity.matched_rules[0].id) == (4, 1, "advice")
    assert severity.note.startswith("Declared 1 (business-critical outage) is more severe than the evidence")
