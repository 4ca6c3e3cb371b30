"""Routing: ordered rules (durable_rules) name candidate pools; calendars pick one; the trace says why.

Rules are tried in file order; the first that matches wins, unless it says `continue: true`, in
which case its candidates come first and the next matching rule adds its own. The last rule must
match every case. A candidate selector names a `pool`, or filters pools by tier, region, country,
language and area, where the value `case` means the case's own value.

Choosing: a dedicated team for the customer comes first, within the tier the case asks for (an
escalation to EE or SE never lands on a dedicated first-line team). A route may put the case at
the front of its queue (`priority: front`, e.g. a mission-critical customer's escalation); the
decision says so. An urgent case on a 24/7 plan (severity 1-2, or a deadline that falls before the
first candidate opens) goes to the first candidate that is open now: follow the sun. A plan on a
business-hours clock never follows the sun: its deadline only runs while that clock is open, so the
case waits for the first candidate. Any case of a rule with `follow_the_sun: false` also goes to the
first candidate even when it is closed, and the decision says when it opens.
"""

import re
from dataclasses import dataclass
from datetime import datetime

import marshmallow as ma
import pycountry

from app.routing.pools import TIERS, Pool
from app.routing.regions import Placement, Regions
from app.rulelang import conditions
from app.rulelang.conditions import Field
from app.rulelang.documents import Problem, RulesInvalid, duplicate_ids
from app.rulelang.domain import CHANNELS, ENVIRONMENTS, LEVELS, PLANS

FIELD_NAMES = (
    "severity",
    "region",
    "country",
    "language",
    "language_supported",
    "plan",
    "tier",
    "product_area",
    "customer",
    "channel",
    "environment",
)
_ROUTE_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")
_SELECTOR_KEYS = ("tier", "region", "country", "language", "area")
PRIORITIES = ("normal", "front")


@dataclass(frozen=True)
class Route:
    id: str
    description: str
    when: dict
    candidates: tuple[dict, ...]
    continue_: bool
    follow_the_sun: bool
    priority: str = "normal"


@dataclass(frozen=True)
class Routing:
    pool: Pool
    respond_in: str
    open_now: bool
    available_at: datetime
    urgent: bool
    routes: tuple[str, ...]
    trace: tuple[str, ...]
    priority: str = "normal"  # front: the case goes to the front of the pool's queue


@dataclass(frozen=True)
class CaseFacts:
    """What routing knows of a case."""

    severity: int
    placement: Placement
    country: str
    language: str
    plan: str
    tier: str
    customer: str
    product_area: str | None
    channel: str | None
    environment: str | None
    language_supported: bool = True  # false: signals.yaml has no vocabulary for the language

    def fact(self) -> dict:
        values = {
            "severity": self.severity,
            "region": self.placement.region,
            "country": self.country,
            "language": self.language,
            "language_supported": self.language_supported,
            "plan": self.plan,
            "tier": self.tier,
            "customer": self.customer,
            "product_area": self.product_area,
            "channel": self.channel,
            "environment": self.environment,
        }
        return {key: value for key, value in values.items() if value is not None}


# -- the document ---------------------------------------------------------------------------

_Selector = ma.Schema.from_dict(
    {"pool": ma.fields.String(), **{key: ma.fields.String() for key in _SELECTOR_KEYS}}, name="Selector"
)


class _RouteSchema(ma.Schema):
    id = ma.fields.String(
        required=True, validate=ma.validate.Regexp(_ROUTE_ID, error="an id is lower-case letters, digits and -")
    )
    description = ma.fields.String(required=True, validate=ma.validate.Length(min=1))
    when = conditions.when_field(FIELD_NAMES)
    candidates = ma.fields.List(
        ma.fields.Nested(_Selector),
        load_default=list,
        metadata={"description": "the pools it offers, in order; a route that continues may offer none"},
    )
    continue_ = ma.fields.Boolean(data_key="continue", load_default=False)
    follow_the_sun = ma.fields.Boolean(load_default=True)
    priority = ma.fields.String(
        load_default="normal",
        validate=ma.validate.OneOf(PRIORITIES),
        metadata={"description": "front: the case goes to the front of the chosen pool's queue"},
    )


class RoutingDocument(ma.Schema):
    """routing.yaml: the routes, in order."""

    routes = ma.fields.List(ma.fields.Nested(_RouteSchema), required=True, validate=ma.validate.Length(min=1))


def fields(regions: Regions) -> dict[str, Field]:
    """What routing rules may test, with the values each field takes."""
    code = Field.matching("[a-z]{2}", "an ISO 639-1 code in lower case")
    return {
        "severity": Field.one_of(LEVELS, numeric=True),
        "region": Field.one_of(regions.names),
        "country": Field.matching("[A-Z]{2}", "an ISO 3166-1 alpha-2 code in upper case"),
        "language": code,
        "language_supported": Field(lambda v: isinstance(v, bool), "true or false"),
        "plan": Field.one_of(PLANS),
        "tier": Field.one_of(TIERS),
        "product_area": Field.matching("[a-z0-9][a-z0-9 _-]*", "a product area in lower case"),
        "customer": Field(lambda v: isinstance(v, str) and v != "", "a customer id"),
        "channel": Field.one_of(CHANNELS),
        "environment": Field.one_of(ENVIRONMENTS),
    }


def build(file: str, doc: dict, regions: Regions, pools: dict[str, Pool], signals: frozenset[str]) -> tuple[Route, ...]:
    problems, routes = duplicate_ids(file, "routes", doc["routes"], "route"), []
    known = fields(regions)
    for spec in doc["routes"]:
        item = f"routes[{spec['id']}]"
        problems += conditions.check(file, item, spec["when"], known, signals)
        if not spec["candidates"] and not spec["continue_"]:
            problems.append(
                Problem(file, item, "candidates", "give at least one candidate (only a route that continues may give none)")
            )
        for index, selector in enumerate(spec["candidates"]):
            problems += _check_selector(file, item, f"candidates[{index}]", selector, regions, pools)
        routes.append(
            Route(
                spec["id"],
                spec["description"],
                spec["when"],
                tuple(spec["candidates"]),
                spec["continue_"],
                spec["follow_the_sun"],
                spec["priority"],
            )
        )
    last = routes[-1]
    if last.when or last.continue_:
        problems.append(
            Problem(file, f"routes[{last.id}]", "when", "the last route must match every case (when: {}) and not continue")
        )
    elif not problems and not any(_fixed(s) and _select(s, list(pools.values()), None) for s in last.candidates):
        problems.append(
            Problem(
                file,
                f"routes[{last.id}]",
                "candidates",
                "give at least one candidate without `case` that names an existing pool, so every case finds one",
            )
        )
    if problems:
        raise RulesInvalid(problems)
    return tuple(routes)


def _fixed(selector: dict) -> bool:
    return "case" not in selector.values()


def _check_selector(file, item, where, selector, regions, pools) -> list[Problem]:
    problems = []
    if not selector:
        return [Problem(file, item, where, "a selector needs pool, or one of " + ", ".join(_SELECTOR_KEYS))]
    if "pool" in selector:
        if len(selector) > 1:
            problems.append(Problem(file, item, where, "pool names one pool; it takes no other keys"))
        if selector["pool"] not in pools:
            problems.append(Problem(file, item, f"{where}.pool", f"undefined pool {selector['pool']!r}"))
        return problems
    checks = {
        "tier": (lambda v: v in TIERS, f"one of {list(TIERS)}"),
        "region": (lambda v: v in regions.names, f"case or one of {list(regions.names)}"),
        "country": (
            lambda v: pycountry.countries.get(alpha_2=v) is not None and v.isupper(),
            "case or an ISO 3166-1 alpha-2 code",
        ),
        "language": (lambda v: re.fullmatch("[a-z]{2}", v) is not None, "case or an ISO 639-1 code"),
        "area": (lambda v: re.fullmatch("[a-z0-9][a-z0-9 _-]*", v) is not None, "case or a product area in lower case"),
    }
    for key, value in selector.items():
        ok, expected = checks[key]
        if value != "case" and not ok(value):
            problems.append(Problem(file, item, f"{where}.{key}", f"{value!r} is not {expected}"))
    if selector.get("tier") == "case":
        problems.append(Problem(file, item, f"{where}.tier", "tier takes a tier, not case"))
    return problems


def selector_values(case: CaseFacts) -> dict[str, str | None]:
    """What `case` in a selector stands for, for this case."""
    return {"region": case.placement.region, "country": case.country, "language": case.language, "area": case.product_area}


def _select(selector: dict, eligible: list[Pool], case: CaseFacts | dict | None) -> list[Pool]:
    """The pools among `eligible` that a selector names, in pools.yaml order; `case` (the case, or
    what `case` stands for) with no value for the case does not restrict, and a filter passes over
    a pool that is `named_only`."""
    if "pool" in selector:
        return [pool for pool in eligible if pool.id == selector["pool"]]
    values = selector_values(case) if isinstance(case, CaseFacts) else (case or {})
    wanted = {}
    for key, value in selector.items():
        if value == "case":
            value = values.get(key)
        if value is not None:
            wanted[key] = value
    return [
        pool
        for pool in eligible
        if not pool.named_only
        and wanted.get("tier", pool.tier) == pool.tier
        and wanted.get("region", pool.region) == pool.region
        and ("country" not in wanted or wanted["country"] in pool.countries)
        and ("language" not in wanted or wanted["language"] in pool.languages)
        and ("area" not in wanted or wanted["area"] in pool.areas)
    ]


# -- routing one case -----------------------------------------------------------------------


def taken(routes: tuple[Route, ...], fired: list[str]) -> list[Route]:
    """The routes that decide, of those that fired (in order): up to and including the first that does not continue."""
    by_id = {route.id: route for route in routes}
    chosen = []
    for route_id in fired:
        chosen.append(by_id[route_id])
        if not by_id[route_id].continue_:
            break
    return chosen


def candidates_of(taken_routes: list[Route], eligible: list[Pool], case: CaseFacts | dict | None) -> list[Pool]:
    """The candidate pools the routes offer, in order, each once."""
    found: dict[str, Pool] = {}
    for route in taken_routes:
        for selector in route.candidates:
            for pool in _select(selector, eligible, case):
                found.setdefault(pool.id, pool)
    return list(found.values())


def route_case(
    case: CaseFacts,
    routes: tuple[Route, ...],
    fired: list[str],
    pools: dict[str, Pool],
    due_at: datetime,
    always_on_clock: bool,
    now: datetime,
    exclude: frozenset[str] = frozenset(),
) -> Routing:
    """Pick the pool for a case from the routes that fired (in order), with a trace of every step.
    Pools in `exclude` (already tried by a reroute) are passed over while another candidate is left."""
    decided = taken(routes, fired)
    trace = [f"region {case.placement.region}: {case.placement.how}"]
    trace += [f"route {route.id}: {route.description}" for route in decided]

    eligible = [pool for pool in pools.values() if pool.serves(case.customer, case.plan)]
    if exclude and any(pool.id not in exclude for pool in eligible):
        trace.append(f"passed over, already tried: {', '.join(sorted(exclude))}")
        eligible = [pool for pool in eligible if pool.id not in exclude]
    # a dedicated team comes first within the tier asked for: an escalation is not held at first line
    candidates = [pool for pool in eligible if case.customer in pool.customers and pool.tier == case.tier]
    for pool in candidates:
        trace.append(f"{pool.id}: dedicated team of customer {case.customer}")
    for pool in eligible:
        if case.customer in pool.customers and pool.tier != case.tier:
            trace.append(
                f"{pool.id}: dedicated team of customer {case.customer}, passed over: {pool.tier}, the case asks for {case.tier}"
            )
    dedicated = {pool.id for pool in candidates}
    candidates += [pool for pool in candidates_of(decided, eligible, case) if pool.id not in dedicated]
    if not candidates:
        # the routes offer no pool this case may use (local functionality of a country without a
        # local pool): the next matching route decides; the last route matches every case
        by_id = {route.id: route for route in routes}
        for route_id in fired[len(decided) :]:
            decided.append(by_id[route_id])
            trace.append(f"no candidate yet; route {route_id}: {by_id[route_id].description}")
            candidates = candidates_of(decided, eligible, case)
            if candidates and not by_id[route_id].continue_:
                break
        candidates = candidates or list(eligible)
    first = candidates[0]
    priority = "front" if any(route.priority == "front" for route in decided) else "normal"
    if priority == "front":
        route_ids = ", ".join(route.id for route in decided if route.priority == "front")
        trace.append(f"priority front: the case goes to the front of the queue (route {route_ids})")

    closed = {}  # pool id -> why it is closed at `now` (None: open); each pool is asked once

    def closed_reason(pool):
        if pool.id not in closed:
            closed[pool.id] = pool.closed_reason(now)
        return closed[pool.id]

    urgent, why = _urgency(case, first, closed_reason(first), due_at, always_on_clock, now)
    follow_the_sun = all(route.follow_the_sun for route in decided)
    trace.append(why)
    if urgent and follow_the_sun:
        chosen = None
        for pool in candidates:
            if closed_reason(pool) is None:
                chosen = pool
                break
            trace.append(f"{pool.id}: closed, {closed_reason(pool)}")
        if chosen is None:
            chosen = min(candidates, key=lambda p: p.calendar.next_opening(now))
            trace.append(f"no candidate is open now; {chosen.id} opens first")
    else:
        chosen = first
        if closed_reason(chosen) is not None:
            because = (
                "country-specific functionality stays local"
                if not follow_the_sun
                else "not urgent"
                if always_on_clock
                else f"the {case.plan} plan's clock runs in business hours only"
            )
            trace.append(f"{chosen.id}: closed, {closed_reason(chosen)}; the case waits for it ({because})")

    open_now = closed_reason(chosen) is None
    available_at = now if open_now else chosen.calendar.next_opening(now)
    respond_in = chosen.answers_in(case.language)
    state = "open now" if open_now else f"opens {available_at.isoformat()}"
    trace.append(
        f"chosen {chosen.id} ({chosen.tier}{', ' + chosen.region if chosen.region else ''}): {state}, answers in {respond_in}"
    )
    return Routing(chosen, respond_in, open_now, available_at, urgent, tuple(r.id for r in decided), tuple(trace), priority)


def _urgency(
    case: CaseFacts, first: Pool, first_closed: str | None, due_at: datetime, always_on_clock: bool, now: datetime
) -> tuple[bool, str]:
    if not always_on_clock:
        # the deadline only runs while the plan's clock is open: nothing follows the sun, the case waits
        return False, f"not urgent: the {case.plan} plan runs on business hours; nothing follows the sun"
    if case.severity <= 2:
        return True, f"urgent: severity {case.severity}"
    if first_closed is not None:
        opens = first.calendar.next_opening(now)
        if opens > due_at:
            return True, (
                f"urgent: the {case.plan} plan's deadline {due_at.isoformat()} falls before "
                f"{first.id} opens ({opens.isoformat()})"
            )
    return False, f"not urgent: severity {case.severity}"


def engine_rules(routes: tuple[Route, ...]) -> dict[str, tuple[int, list[dict]]]:
    """The routes in durable_rules condition JSON, priority = position in the file."""
    return {route.id: (index, conditions.compile_when(route.when)) for index, route in enumerate(routes)}
