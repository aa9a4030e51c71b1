"""Seeded synthetic rules and listings for benchmarks (and for eyeballing the index).

The shape is meant to be realistic rather than flattering: keywords follow a Zipf law over a
20k-word vocabulary (the most popular keyword is in ~9% of rules), listings are written with the
same popular words plus filler, most rules have a price range, ~65% have a place in a US metro
area, some use phrases and excluded words, ~10% are keyword-less category rules, ~5% are paused.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

import numpy as np

from bot.domain.listing import Condition, GeoPoint, Listing
from bot.domain.rule import Channel, Rule
from bot.domain.text import tokens

REAL_WORDS = (  # noqa: SIM905 - a paragraph of words reads better than a list literal
    "chair iphone desk bike camera guitar laptop monitor lego switch sofa table lamp drone "
    "watch ipad kayak tent speaker vinyl record turntable amplifier keyboard mouse router "
    "printer stroller crib dresser mattress grill mower blender mixer espresso rolex tudor "
    "omega nikon canon sony fender gibson yamaha roland dyson makita dewalt milwaukee ryobi "
    "peloton treadmill rowing dumbbell kettlebell snowboard ski helmet jacket patagonia "
    "arcteryx nintendo playstation xbox gpu rtx 3080 4090 macbook thinkpad aeron herman miller"
).split()

FILLER = (  # noqa: SIM905
    "great condition used barely works perfectly pickup only local cash no lowballs please "
    "price firm obo like new comes with original box smoke free home pet free clean selling "
    "because moving upgrade need gone asap text me if interested still available first come "
    "served minor wear light scuff fully functional tested serious buyer only can meet halfway "
    "shipping extra retail paid asking will consider trade offer the a and with for in on my "
    "this it is of to very good black white grey silver blue red green small large medium size "
    "year old gently used hardly always stored indoors receipt included warranty left"
).split()

EXCLUDE_WORDS = (  # noqa: SIM905
    "broken parts repair replica damaged cracked fake lot bundle empty box read description "
    "refurbished as is locked icloud bent rusted missing stained torn knockoff clone"
).split()

CATEGORIES = {
    "Electronics": ["Audio", "Computers", "Phones", "Cameras", "Gaming", "TV"],
    "Furniture": ["Office", "Gaming", "Living Room", "Bedroom", "Outdoor"],
    "Sports": ["Bikes", "Fitness", "Water", "Winter", "Camping"],
    "Music": ["Instruments", "Vinyl", "Pro Audio"],
    "Home": ["Kitchen", "Appliances", "Tools", "Garden"],
    "Fashion": ["Watches", "Shoes", "Jackets", "Bags"],
    "Baby": ["Strollers", "Toys", "Nursery"],
    "Vehicles": ["Parts", "Motorcycles", "Cars"],
    "Collectibles": ["Cards", "Coins", "Toys", "Art"],
    "Books": ["Fiction", "Textbooks", "Comics"],
}

METROS = (  # (lat, lon, weight): rules and listings cluster where people live
    (40.71, -74.01, 20), (34.05, -118.24, 13), (41.88, -87.63, 9.5), (29.76, -95.37, 7),
    (33.45, -112.07, 5), (39.95, -75.17, 6), (29.42, -98.49, 2.5), (32.72, -117.16, 3.3),
    (32.78, -96.80, 7.5), (37.34, -121.89, 2), (30.27, -97.74, 2.3), (30.33, -81.66, 1.6),
    (37.77, -122.42, 4.7), (39.96, -82.99, 2.1), (35.23, -80.84, 2.6), (39.77, -86.16, 2.1),
    (47.61, -122.33, 4), (39.74, -104.99, 3), (38.91, -77.04, 6.3), (42.36, -71.06, 4.9),
    (36.16, -86.78, 2), (35.47, -97.52, 1.4), (36.17, -115.14, 2.3), (45.52, -122.68, 2.5),
    (43.04, -87.91, 1.6), (35.08, -106.65, 0.9), (32.22, -110.97, 1), (38.58, -121.49, 2.4),
    (39.10, -94.58, 2.2), (33.75, -84.39, 6), (25.76, -80.19, 6.1), (44.98, -93.27, 3.7),
    (29.95, -90.07, 1.3), (41.50, -81.69, 2.1), (28.54, -81.38, 2.6), (27.95, -82.46, 3.2),
    (40.44, -80.00, 2.4), (38.63, -90.20, 2.8), (42.33, -83.05, 4.4), (40.76, -111.89, 1.2),
    (46.87, -96.79, 0.3), (44.06, -121.31, 0.2), (64.84, -147.72, 0.1), (21.31, -157.86, 1),
)  # fmt: skip

SHARED_CHANNELS = frozenset({Channel.dm})
VOCAB_SIZE = 20_000
ZIPF_S = 0.93


def _vocabulary(rng: np.random.Generator, size: int) -> list[str]:
    """Real product words first (the most popular), then pronounceable made-up words.

    Every word is its own token (no plural folding, no splitting), so a word means one key.
    """
    words = list(dict.fromkeys(REAL_WORDS))
    seen = set(words) | set(FILLER) | set(EXCLUDE_WORDS)
    consonants, vowels = list("bcdfghjklmnprtvz"), list("aeiou")
    while len(words) < size:
        n = int(rng.integers(2, 5))
        word = "".join(str(rng.choice(consonants)) + str(rng.choice(vowels)) for _ in range(n))
        if word not in seen and tokens(word) == [word]:
            seen.add(word)
            words.append(word)
    return words


def _zipf_cdf(n: int, s: float) -> np.ndarray:
    p = 1.0 / np.arange(1, n + 1) ** s
    return np.cumsum(p / p.sum())


def _draw(rng: np.random.Generator, cdf: np.ndarray, size: int | tuple[int, ...]) -> np.ndarray:
    """Vectorised draws from a discrete distribution given by its CDF."""
    return np.minimum(np.searchsorted(cdf, rng.random(size), side="right"), len(cdf) - 1)


@dataclass
class World:
    """Everything both rules and listings draw from, fixed by the seed."""

    rng: np.random.Generator
    vocab: list[str]
    vocab_cdf: np.ndarray
    phrases: list[str]
    phrase_cdf: np.ndarray
    excludes: list[str]
    exclude_cdf: np.ndarray
    categories: list[str]
    metro_xy: np.ndarray
    metro_cdf: np.ndarray

    @classmethod
    def create(cls, seed: int) -> World:
        rng = np.random.default_rng(seed)
        vocab = _vocabulary(rng, VOCAB_SIZE)
        vocab_cdf = _zipf_cdf(len(vocab), ZIPF_S)
        pairs = _draw(rng, vocab_cdf, (3000, 2))
        phrases = list(dict.fromkeys(f"{vocab[a]} {vocab[b]}" for a, b in pairs if a != b))
        more = [
            "".join(str(c) for c in rng.choice(list("bdgklmnprstvz"), 2)) + "o" for _ in range(300)
        ]
        excludes = list(dict.fromkeys([*EXCLUDE_WORDS, "for parts", "empty box", *more]))
        categories = [top for top in CATEGORIES] + [
            f"{top} - {sub}" for top, subs in CATEGORIES.items() for sub in subs
        ]
        weights = np.array([m[2] for m in METROS])
        return cls(
            rng=rng,
            vocab=vocab,
            vocab_cdf=vocab_cdf,
            phrases=phrases,
            phrase_cdf=_zipf_cdf(len(phrases), 1.0),
            excludes=excludes,
            exclude_cdf=_zipf_cdf(len(excludes), 1.1),
            categories=categories,
            metro_xy=np.array([(m[0], m[1]) for m in METROS]),
            metro_cdf=np.cumsum(weights / weights.sum()),
        )

    def places(self, n: int) -> list[GeoPoint]:
        """``n`` points scattered around metro areas (sigma ~25 mi)."""
        centres = self.metro_xy[_draw(self.rng, self.metro_cdf, n)]
        xy = np.round(centres + self.rng.normal(0.0, 0.35, size=(n, 2)), 4)
        return [GeoPoint(lat, lon) for lat, lon in xy.tolist()]


_DOLLARS: dict[int, Decimal] = {}


def _dollars(value: float) -> Decimal:
    """Shared Decimal objects for whole-dollar bounds (keeps a million rules small in memory)."""
    key = max(1, round(value))
    found = _DOLLARS.get(key)
    if found is None:
        found = _DOLLARS[key] = Decimal(key).quantize(Decimal("0.01"))
    return found


def make_rules(world: World, n: int, start_id: int = 1) -> list[Rule]:
    """``n`` rules with ids ``start_id``…; see the module docstring for the mix."""
    rng = world.rng
    u = rng.random((n, 12))
    words = _draw(rng, world.vocab_cdf, (n, 3)).tolist()
    phrases = _draw(rng, world.phrase_cdf, n).tolist()
    cats = rng.integers(0, len(world.categories), size=n).tolist()
    centre = np.exp(rng.uniform(np.log(10), np.log(3000), size=n))
    lows = (centre * rng.uniform(0.2, 0.8, size=n)).tolist()
    highs = (centre * rng.uniform(1.0, 2.0, size=n)).tolist()
    places = world.places(n)
    radii = rng.integers(10, 201, size=n).tolist()
    n_excl = rng.integers(1, 4, size=n).tolist()
    excl = _draw(rng, world.exclude_cdf, (n, 3)).tolist()
    conds = rng.integers(1, 5, size=n).tolist()
    scores = np.round(rng.uniform(0.5, 0.9, size=n), 2).tolist()
    ul = u.tolist()
    rules: list[Rule] = []
    for i in range(n):
        r = ul[i]
        keywords: tuple[str, ...] = ()
        categories: tuple[str, ...] = ()
        if r[0] < 0.10:
            categories = (world.categories[cats[i]],)
        else:
            k = 1 if r[1] < 0.5 else (2 if r[1] < 0.85 else 3)
            terms = [world.vocab[w] for w in words[i][:k]]
            if r[2] < 0.15:
                terms[0] = world.phrases[phrases[i]]
            keywords = tuple(dict.fromkeys(terms))
            if r[3] < 0.4:
                categories = (world.categories[cats[i]],)
        min_price = max_price = None
        if r[4] < 0.7:
            if r[5] < 0.5:
                max_price = _dollars(highs[i])
            elif r[5] < 0.85:
                min_price, max_price = _dollars(lows[i]), _dollars(highs[i])
            else:
                min_price = _dollars(lows[i])
        exclude: tuple[str, ...] = ()
        if r[8] < 0.25:
            exclude = tuple(dict.fromkeys(world.excludes[e] for e in excl[i][: n_excl[i]]))
        located = r[7] < 0.65
        rules.append(
            Rule(
                id=start_id + i,
                user_id=(start_id + i) % 50_000,
                name="r",
                keywords=keywords,
                exclude=exclude,
                min_price=min_price,
                max_price=max_price,
                currency="USD" if r[6] < 0.95 else ("CAD" if r[6] < 0.98 else "EUR"),
                categories=categories,
                min_condition=Condition(conds[i]) if r[9] < 0.3 else None,
                point=places[i] if located else None,
                radius_mi=float(radii[i]) if located else None,
                min_deal_score=scores[i] if r[10] < 0.15 else None,
                channels=SHARED_CHANNELS,
                active=r[11] >= 0.05,
            )
        )
    return rules


def make_listings(world: World, n: int, start_id: int = 1) -> list[Listing]:
    """``n`` listings: a few popular product words in the title, mostly filler below it."""
    rng = world.rng
    conditions = list(Condition)
    places = world.places(n)
    listings: list[Listing] = []
    for i in range(n):
        u = rng.random(8).tolist()
        title_words = _draw(rng, world.vocab_cdf, int(rng.integers(2, 5))).tolist()
        chunks = [world.vocab[w] for w in title_words]
        chunks += [FILLER[f] for f in rng.integers(0, len(FILLER), int(rng.integers(0, 3)))]
        if u[0] < 0.25:
            chunks.append(world.phrases[int(_draw(rng, world.phrase_cdf, 1)[0])])
        rng.shuffle(chunks)
        body = [FILLER[f] for f in rng.integers(0, len(FILLER), int(rng.integers(8, 41)))]
        body += [world.vocab[w] for w in _draw(rng, world.vocab_cdf, int(rng.integers(0, 4)))]
        if u[1] < 0.10:
            body.append(world.excludes[int(_draw(rng, world.exclude_cdf, 1)[0])])
        rng.shuffle(body)
        price = None
        if u[2] < 0.95:
            price = Decimal(f"{float(np.exp(rng.uniform(np.log(5), np.log(5000)))):.2f}")
        category = None
        if u[3] < 0.9:
            category = world.categories[int(rng.integers(len(world.categories)))]
        listings.append(
            Listing(
                id=start_id + i,
                title=" ".join(chunks).title(),
                price=price,
                currency="USD" if u[4] < 0.97 else "CAD",
                description=" ".join(body),
                category=category,
                condition=conditions[int(rng.integers(len(conditions)))] if u[5] < 0.85 else None,
                point=places[i] if u[6] < 0.9 else None,
                deal_score=round(float(rng.random()), 3) if u[7] < 0.7 else None,
            )
        )
    return listings
