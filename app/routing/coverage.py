"""Coverage: the hours of the coming year in which a 24/7 promise has no pool that may keep it.

For every plan on an always-open clock and every level it defines a target for, and for each kind
of case the routes tell apart (tier; the case's country and region; a product area or the signals
a route tests), the routes give the candidate pools; a case reported at instant t is at risk when
none of them is working at any moment of [t, t + target] (the deadline falls before any of them
opens). Computed on intervals: each pool's working windows of the year are merged, the gaps between
them shortened by the target.
"""

from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from app.routing.pools import TIERS, Pool
from app.routing.regions import Regions
from app.routing.routes import Route, candidates_of, taken
from app.routing.sla import Terms

Interval = tuple[datetime, datetime]
WEEKLY_AT_LEAST = 4  # a gap shape seen this often in the year is shown once, as a weekly pattern


@dataclass(frozen=True)
class Gap:
    """Instants [start, end) at which a reported case is due before any pool that may serve it opens."""

    start: datetime
    end: datetime
    holidays: tuple[str, ...]  # holidays that closed a candidate pool during the gap, "name (countries)"

    @property
    def hours(self) -> float:
        return (self.end - self.start).total_seconds() / 3600


@dataclass(frozen=True)
class Shortfall:
    """One warning: the kinds of case that a set of candidate pools serves under a plan, and per level
    the instants a case is due before any of them opens."""

    plan: str
    cases: str  # which cases, in words
    pools: tuple[str, ...]
    levels: tuple[tuple[int, int, tuple[Gap, ...]], ...]  # (level, target minutes, gaps), most urgent first
    stays_local: bool = False  # the route keeps the case with its first candidate (follow_the_sun: false)

    def hours(self, level: int) -> float:
        return sum(gap.hours for lv, _, gaps in self.levels if lv == level for gap in gaps)

    def headline(self) -> str:
        per_level = ", ".join(
            f"{sum(g.hours for g in gaps):,.0f} h at severity {level} ({minutes} min)" for level, minutes, gaps in self.levels
        )
        return (
            f"sla.yaml: plans.{self.plan}: warning: {self.cases}: due before any pool that may serve them "
            f"({', '.join(self.pools) or 'none'}) opens, when reported in {per_level} of the coming year"
        )

    def lines(self) -> list[str]:
        """The warning as ops read it: a headline, then (for the most urgent level) the weekly
        patterns, then the dated gaps with the holidays that make them."""
        level, _, gaps = self.levels[0]
        lines = [self.headline() + f"; at severity {level}:"]
        weekly: dict[str, int] = defaultdict(int)
        for gap in gaps:
            shape = _shape(gap)
            if not gap.holidays and shape is not None:
                weekly[shape] += 1
        common = {shape for shape, count in weekly.items() if count >= WEEKLY_AT_LEAST}
        for shape in sorted(common, key=lambda s: -weekly[s]):
            lines.append(f"    every week {shape} ({weekly[shape]} weeks)")
        for gap in gaps:
            if gap.holidays or _shape(gap) not in common:
                holidays = f": {', '.join(gap.holidays)}" if gap.holidays else ""
                lines.append(f"    {gap.start:%Y-%m-%d %a %H:%M} - {gap.end:%Y-%m-%d %a %H:%M} UTC ({gap.hours:.0f} h){holidays}")
        return lines

    def summary(self) -> str:
        """One line, for a case kept with one pool by design: the pool, the hours, the holidays."""
        level, minutes, gaps = self.levels[0]
        names = sorted({name.rsplit(" (", 1)[0] for gap in gaps for name in gap.holidays})
        shown = ", ".join(names[:6]) + (f" and {len(names) - 6} more" if len(names) > 6 else "")
        return (
            f"    {', '.join(self.pools)} ({self.cases}): {sum(g.hours for g in gaps):,.0f} h at severity {level} "
            f"({minutes} min); nights, weekends{', holidays ' + shown if shown else ''}"
        )


def report(shortfalls: list["Shortfall"]) -> list[str]:
    """The warnings `triage rules check` prints: each shortfall in full, and the cases kept local by
    design (follow_the_sun: false) in one warning per plan, a line per pool."""
    lines = []
    for shortfall in shortfalls:
        if not shortfall.stays_local:
            lines += shortfall.lines()
    local: dict[str, list[Shortfall]] = defaultdict(list)
    for shortfall in shortfalls:
        if shortfall.stays_local:
            local[shortfall.plan].append(shortfall)
    for plan, kept in local.items():
        lines.append(
            f"sla.yaml: plans.{plan}: warning: cases a route keeps with one pool (follow_the_sun: false) "
            f"are due before it opens when reported in:"
        )
        lines += [shortfall.summary() for shortfall in kept]
    return lines


def _shape(gap: Gap) -> str | None:
    """'Sat 00:00 - Sun 21:00 UTC' for a gap shorter than a week."""
    if gap.end - gap.start >= timedelta(days=7):
        return None
    return f"{gap.start:%a %H:%M} - {gap.end:%a %H:%M} UTC"


def check(
    routes: tuple[Route, ...],
    pools: dict[str, Pool],
    terms: Terms,
    regions: Regions,
    fire: Callable[[dict], list[str]],
    start: datetime,
    days: int = 365,
) -> list[Shortfall]:
    """Every shortfall of the 24/7 plans' promises in [start, start + days), for the kinds of case the
    routes tell apart. `fire(fact)` gives the ids of the routes a routing fact matches, in order."""
    start = start.astimezone(UTC).replace(minute=0, second=0, microsecond=0)
    end = start + timedelta(days=days)
    areas = sorted({v for r in routes for v in r.when.get("product_area", {}).get("in", []) if isinstance(v, str)})
    # the kinds of case routes tell apart by what they are about: a product area, or signals of the text
    topics: list[tuple[str | None, dict, str]] = [(None, {}, ""), *((a, {}, a) for a in areas)]
    for route in routes:
        needed = route.when.get("signals", {}).get("all", [])
        if needed and not any(topic[2] == "+".join(needed) for topic in topics):
            topics.append((None, dict.fromkeys(needed, True), "+".join(needed)))
    homes = {country for pool in pools.values() for country in pool.countries}
    # a country each pool calls home, and per region one that no pool does
    origins: list[tuple[str | None, str, str]] = [(c, regions.of(c).region, c) for c in sorted(homes)]
    for region in regions.names:
        other = next((c for c, p in sorted(regions.placements.items()) if p.region == region and c not in homes), None)
        origins.append((other, region, f"elsewhere in {region}"))
    windows: dict[str, list[Interval]] = {}
    closures: dict[str, list[tuple[datetime, datetime, tuple[str, str]]]] = {}
    horizon = end + timedelta(days=3)

    def open_windows(pool: Pool) -> list[Interval]:
        if pool.id not in windows:
            calendar = pool.calendar
            windows[pool.id] = [(start, horizon)] if calendar.always_open else list(calendar.windows(start, until=horizon))
            closures[pool.id] = list(calendar.closures(start, horizon))
        return windows[pool.id]

    shortfalls = []
    for plan in terms.plans.values():
        if not terms.clocks[plan.clock].always_open:
            continue  # a business-hours deadline only runs while the clock is open: the case waits (README)
        eligible = [pool for pool in pools.values() if not pool.customers and (not pool.plans or plan.name in pool.plans)]
        groups: dict[tuple, dict] = {}  # (candidate ids, stays local) -> {level: cases}
        for level in plan.targets:
            for tier in TIERS:
                for area, raised, topic in topics:
                    for country, region, label in origins:
                        fact = {"severity": level, "plan": plan.name, "tier": tier, "region": region, "language_supported": True}
                        fact.update({k: v for k, v in (("country", country), ("product_area", area)) if v is not None})
                        fired = fire({**fact, "signal": raised})
                        decided = taken(routes, fired)
                        values = {"region": region, "country": country or "--", "area": area}
                        offered = candidates_of(decided, eligible, values)
                        for extra in [r for r in routes if r.id in fired[len(decided) :]] if not offered else []:
                            decided.append(extra)  # as route_case does: the next matching route decides
                            offered = candidates_of(decided, eligible, values)
                            if offered and not extra.continue_:
                                break
                        local = not all(route.follow_the_sun for route in decided)
                        ids = tuple(pool.id for pool in offered[:1]) if local else tuple(sorted(p.id for p in offered))
                        groups.setdefault((ids, local), defaultdict(list))[level].append(f"{tier}|{topic}|{label}")
        for (ids, local), by_level in groups.items():
            levels = []
            for level in sorted(by_level, key=lambda lv: plan.targets[lv]):
                gaps = _gaps([pools[i] for i in ids], open_windows, closures, start, end, plan.targets[level])
                if gaps:
                    levels.append((level, plan.targets[level], tuple(gaps)))
            if levels:
                cases = sorted({case for found in by_level.values() for case in found})
                shortfalls.append(Shortfall(plan.name, _describe(cases, len(origins)), ids, tuple(levels), local))
    return shortfalls


def _describe(cases: list[str], everywhere: int) -> str:
    """'L1 cases from anywhere; EE localization cases from RU, BY' from the scenario keys
    (tier|area|origin), `everywhere` being the number of origins tried."""
    by_kind: dict[tuple[str, str], list[str]] = defaultdict(list)
    for case in cases:
        tier, area, origin = case.split("|")
        by_kind[(tier, area)].append(origin)
    parts = []
    for tier in dict.fromkeys(tier for tier, _ in sorted(by_kind)):
        kinds = {area: origins for (t, area), origins in by_kind.items() if t == tier}
        if all(len(origins) == everywhere for origins in kinds.values()):
            parts.append(f"{tier} cases from anywhere")  # whatever the product area
            for area in kinds:
                del by_kind[(tier, area)]
    for (tier, area), origins in sorted(by_kind.items()):
        kind = f"{tier}{' ' + area if area else ''} cases"
        homes = [o for o in origins if not o.startswith("elsewhere")]
        if len(origins) == everywhere:
            parts.append(f"{kind} from anywhere")
        elif len(homes) > 8:
            parts.append(f"{kind} from {len(homes)} countries ({', '.join(homes[:4])}, ...)" + _elsewhere(origins))
        else:
            parts.append(f"{kind} from {', '.join(homes)}" + _elsewhere(origins))
    return "; ".join(parts)


def _elsewhere(origins: list[str]) -> str:
    regions = [o.removeprefix("elsewhere in ") for o in origins if o.startswith("elsewhere")]
    return f" and elsewhere in {', '.join(regions)}" if regions else ""


def _gaps(candidates: list[Pool], open_windows, closures, start: datetime, end: datetime, minutes: int) -> list[Gap]:
    """The instants in [start, end) at which no candidate opens within `minutes`, with the holidays in each gap."""
    merged = _merge(w for pool in candidates for w in open_windows(pool))
    target = timedelta(minutes=minutes)
    horizon = end + timedelta(days=3)
    gaps = []
    cursor = start
    for begin, finish in [*merged, (horizon, horizon)]:
        if begin > cursor and begin - cursor > target:
            at_risk = (max(cursor, start), min(begin - target, end))
            if at_risk[0] < at_risk[1]:
                names: dict[str, list[str]] = defaultdict(list)
                for pool in candidates:
                    for c_begin, c_end, (holiday, where) in closures[pool.id]:
                        if c_begin < begin and c_end > cursor and where not in names[holiday]:
                            names[holiday].append(where)
                holidays = tuple(f"{name} ({', '.join(sorted(where))})" for name, where in names.items())
                gaps.append(Gap(*at_risk, holidays))
        cursor = max(cursor, finish)
        if cursor >= end:
            break
    return gaps


def _merge(intervals: Iterable[Interval]) -> list[Interval]:
    merged: list[Interval] = []
    for begin, finish in sorted(intervals):
        if merged and begin <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], finish))
        else:
            merged.append((begin, finish))
    return merged
