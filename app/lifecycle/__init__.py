"""The case lifecycle: a case's timeline (classifications and events), its state and response clock
derived from it, the escalation steps that come due, and the SLA report with its penalties. The
clock and the state are pure functions of the timeline. May import app.decide, app.store and
everything below them."""
