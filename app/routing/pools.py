"""Engineer pools: who they are (tier, region, areas, languages, home countries, dedicated customers)
and when they work (a calendar)."""

import re
from dataclasses import dataclass
from datetime import datetime

import marshmallow as ma
import pycountry

from app.routing.calendars import Calendar, build_calendar, calendar_fields
from app.routing.regions import Regions
from app.rulelang.documents import Problem, RulesInvalid, duplicate_ids
from app.rulelang.domain import PLANS

TIERS = ("L1", "EE", "SE")
_POOL_ID = re.compile(r"^[a-z0-9][a-z0-9-]{0,63}$")


@dataclass(frozen=True)
class Pool:
    id: str
    tier: str
    region: str | None
    description: str
    countries: tuple[str, ...]
    languages: tuple[str, ...]
    areas: tuple[str, ...]
    customers: tuple[str, ...]
    plans: tuple[str, ...]
    calendar: Calendar
    named_only: bool = False  # taken only by a route that names it; filters pass it over

    def serves(self, customer: str, plan: str) -> bool:
        """A dedicated team serves only its customers; a pool with plans serves only those plans."""
        return (not self.customers or customer in self.customers) and (not self.plans or plan in self.plans)

    def closed_reason(self, at: datetime) -> str | None:
        return self.calendar.closed_reason(at)

    def describe(self) -> dict:
        """The pool as ops see it in listings."""
        return {
            "id": self.id,
            "description": self.description,
            "tier": self.tier,
            "region": self.region,
            "countries": list(self.countries),
            "languages": list(self.languages),
            "areas": list(self.areas),
            "timezone": self.calendar.tz.key,
            "hours": self.calendar.describe_hours(),
            "holiday_calendar": self.calendar.holidays.describe() if self.calendar.holidays else None,
            "always_open": self.calendar.always_open,
            "customers": list(self.customers),
            "plans": list(self.plans),
            "named_only": self.named_only,
        }

    def answers_in(self, language: str) -> str:
        """The case's language if the pool speaks it, else English, else the pool's first language."""
        if language in self.languages:
            return language
        return "en" if "en" in self.languages else self.languages[0]


PoolSchema = ma.Schema.from_dict(
    {
        "id": ma.fields.String(
            required=True, validate=ma.validate.Regexp(_POOL_ID, error="an id is lower-case letters, digits and -")
        ),
        "description": ma.fields.String(required=True),
        "tier": ma.fields.String(required=True, validate=ma.validate.OneOf(TIERS)),
        "region": ma.fields.String(load_default=None, metadata={"description": "none for a global pool"}),
        "countries": ma.fields.List(ma.fields.String(), load_default=list),
        "languages": ma.fields.List(ma.fields.String(), required=True, validate=ma.validate.Length(min=1)),
        "areas": ma.fields.List(ma.fields.String(), required=True, validate=ma.validate.Length(min=1)),
        "customers": ma.fields.List(
            ma.fields.String(), load_default=list, metadata={"description": "a dedicated team: serves only these customers"}
        ),
        "plans": ma.fields.List(
            ma.fields.String(validate=ma.validate.OneOf(PLANS)),
            load_default=list,
            metadata={"description": "serves only these plans (default: all)"},
        ),
        "named_only": ma.fields.Boolean(
            load_default=False,
            metadata={"description": "taken only by a route that names it ({pool: ID}); filters pass it over"},
        ),
        **calendar_fields(),
    },
    name="Pool",
)


class PoolsDocument(ma.Schema):
    """pools.yaml: the engineer pools, in order of preference where a rule's selector finds several."""

    pools = ma.fields.List(ma.fields.Nested(PoolSchema), required=True, validate=ma.validate.Length(min=1))


def build(file: str, doc: dict, regions: Regions) -> dict[str, Pool]:
    problems, pools = duplicate_ids(file, "pools", doc["pools"], "pool"), {}
    for spec in doc["pools"]:
        item = f"pools[{spec['id']}]"
        if spec["region"] is not None and spec["region"] not in regions.names:
            problems.append(Problem(file, item, "region", f"undefined region {spec['region']!r}"))
        if spec["tier"] == "L1" and spec["region"] is None:
            problems.append(Problem(file, item, "region", "an L1 pool belongs to a region"))
        for index, country in enumerate(spec["countries"]):
            if pycountry.countries.get(alpha_2=country) is None or country != country.upper():
                problems.append(Problem(file, item, f"countries[{index}]", f"{country!r} is not an ISO 3166-1 alpha-2 code"))
        for index, language in enumerate(spec["languages"]):
            if not re.fullmatch("[a-z]{2}", language) or pycountry.languages.get(alpha_2=language) is None:
                problems.append(Problem(file, item, f"languages[{index}]", f"{language!r} is not an ISO 639-1 code"))
        for index, area in enumerate(spec["areas"]):
            if not re.fullmatch("[a-z0-9][a-z0-9 _-]*", area):
                problems.append(Problem(file, item, f"areas[{index}]", f"{area!r}: a product area is lower case"))
        calendar, more = build_calendar(file, item, spec)
        problems += more
        if calendar is not None:
            pools[spec["id"]] = Pool(
                spec["id"],
                spec["tier"],
                spec["region"],
                spec["description"],
                tuple(spec["countries"]),
                tuple(spec["languages"]),
                tuple(spec["areas"]),
                tuple(spec["customers"]),
                tuple(spec["plans"]),
                calendar,
                spec["named_only"],
            )
    for region in regions.names:
        if not any(p.tier == "L1" and p.region == region and not p.named_only for p in pools.values()):
            problems.append(Problem(file, "", "pools", f"region {region} has no L1 pool"))
    if problems:
        raise RulesInvalid(problems)
    return pools
