"""Shared helpers for tests that need the bundled rulebook."""

from functools import lru_cache

from app.rulebook import book as rulebook

from .conftest import RULES


@lru_cache(maxsize=1)
def book():
    return rulebook.build(rulebook.read_sources(RULES))
