"""Rulebooks: one validated, compiled, versioned set of every rule document, and the live one a
process serves. May import app.severity, app.routing and app.rulelang."""
