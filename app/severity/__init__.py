"""Severity: text normalisation, the newest text of a mail (quotes and signatures set aside), language
detection, the signal vocabularies and the severity policy (rules compiled for durable_rules, and
`combine()`). May import app.rulelang only."""
