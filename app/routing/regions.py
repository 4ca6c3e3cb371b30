"""Regions (world segments): which countries each serves, with named exceptions."""

import re
from dataclasses import dataclass

import marshmallow as ma
import pycountry

from app.rulelang.documents import Problem, RulesInvalid

_REGION = re.compile(r"^[A-Z][A-Z0-9]{1,15}$")


class _Region(ma.Schema):
    description = ma.fields.String(required=True)
    countries = ma.fields.List(ma.fields.String(), required=True)


class _Exception(ma.Schema):
    country = ma.fields.String(required=True)
    region = ma.fields.String(required=True)
    reason = ma.fields.String(required=True, validate=ma.validate.Length(min=1))


class RegionsDocument(ma.Schema):
    """regions.yaml: the segments, their countries, the exceptions, and where an unlisted country goes."""

    regions = ma.fields.Dict(
        keys=ma.fields.String(validate=ma.validate.Regexp(_REGION, error="a region name is upper case")),
        values=ma.fields.Nested(_Region),
        required=True,
        validate=ma.validate.Length(min=1),
    )
    exceptions = ma.fields.List(ma.fields.Nested(_Exception), load_default=list)
    default_region = ma.fields.String(required=True)


@dataclass(frozen=True)
class Placement:
    region: str
    how: str  # why this country is in this region, for the trace


@dataclass(frozen=True)
class Regions:
    names: tuple[str, ...]
    placements: dict  # country -> Placement
    default_region: str

    def of(self, country: str) -> Placement:
        return self.placements.get(country) or Placement(
            self.default_region, f"{country} is in no region's list; the default region {self.default_region} serves it"
        )


def build(file: str, doc: dict) -> Regions:
    problems: list[Problem] = []
    placements: dict[str, Placement] = {}
    where: dict[str, str] = {}
    for name, region in doc["regions"].items():
        for index, country in enumerate(region["countries"]):
            item, field = f"regions.{name}", f"countries[{index}]"
            if pycountry.countries.get(alpha_2=country) is None or country != country.upper():
                problems.append(Problem(file, item, field, f"{country!r} is not an ISO 3166-1 alpha-2 code"))
            elif country in where:
                problems.append(Problem(file, item, field, f"{country} is already in {where[country]}"))
            else:
                where[country] = f"regions.{name}"
                placements[country] = Placement(name, f"{country} is in {name} ({region['description']})")
    for index, rule in enumerate(doc["exceptions"]):
        item, country = f"exceptions[{index}]", rule["country"]
        if pycountry.countries.get(alpha_2=country) is None:
            problems.append(Problem(file, item, "country", f"{country!r} is not an ISO 3166-1 alpha-2 code"))
        elif country in where:
            problems.append(Problem(file, item, "country", f"{country} is already in {where[country]}"))
        if rule["region"] not in doc["regions"]:
            problems.append(Problem(file, item, "region", f"undefined region {rule['region']!r}"))
        where[country] = item
        placements[country] = Placement(rule["region"], f"{country} is served by {rule['region']} by exception: {rule['reason']}")
    if doc["default_region"] not in doc["regions"]:
        problems.append(Problem(file, "", "default_region", f"undefined region {doc['default_region']!r}"))
    if problems:
        raise RulesInvalid(problems)
    return Regions(tuple(doc["regions"]), placements, doc["default_region"])
