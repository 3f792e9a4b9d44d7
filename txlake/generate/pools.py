"""Faker pools: names, places, jobs and merchants, drawn once per seed.

Faker is far too slow to call per row (tens of microseconds each), so it only
fills small pools; numpy then indexes into them for millions of rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from faker import Faker

from txlake.generate.categories import CATEGORIES

FIRST_NAMES = 400
LAST_NAMES = 1000
LOCATIONS = 300
OCCUPATIONS = 250


def _faker(seed: int, purpose: str) -> Faker:
    fake = Faker("en_US")
    # One Faker stream per purpose, so growing one pool never shifts another.
    fake.seed_instance(f"{seed}:{purpose}")
    return fake


def _distinct(make, size: int) -> tuple[str, ...]:
    """Up to `size` distinct values in first-seen order (deterministic)."""
    seen: dict[str, None] = {}
    for _ in range(size * 4):
        if len(seen) == size:
            break
        value = make()
        if value:
            seen.setdefault(value, None)
    return tuple(seen)


def zipf_weights(size: int, exponent: float) -> np.ndarray:
    """Popularity by rank: a few big cities or merchants, a long tail of small ones."""
    weights = 1.0 / np.arange(1, size + 1) ** exponent
    return weights / weights.sum()


@dataclass(frozen=True)
class PeoplePools:
    female_first: tuple[str, ...]
    male_first: tuple[str, ...]
    last: tuple[str, ...]
    locations: tuple[str, ...]  # ordered by popularity (see zipf_weights)
    occupations: tuple[str, ...]


@dataclass(frozen=True)
class VendorPool:
    names: tuple[str, ...]  # grouped by category, most popular first
    category: np.ndarray  # category index of each vendor
    # category index + cumulative share within the category: one searchsorted
    # over this picks a vendor for many rows of mixed categories at once.
    keyed_cdf: np.ndarray
    # position of each category's vendors in `names`: [start, stop)
    bounds: np.ndarray


@lru_cache(maxsize=8)
def people_pools(seed: int) -> PeoplePools:
    fake = _faker(seed, "people")
    return PeoplePools(
        female_first=_distinct(fake.first_name_female, FIRST_NAMES),
        male_first=_distinct(fake.first_name_male, FIRST_NAMES),
        last=_distinct(fake.last_name, LAST_NAMES),
        locations=_distinct(lambda: f"{fake.city()}, {fake.state_abbr()}", LOCATIONS),
        occupations=_distinct(fake.job, OCCUPATIONS),
    )


@lru_cache(maxsize=8)
def vendor_pool(seed: int) -> VendorPool:
    fake = _faker(seed, "vendors")
    names: list[str] = []
    taken: set[str] = set()
    category: list[int] = []
    keyed: list[np.ndarray] = []
    bounds = np.zeros((len(CATEGORIES), 2), dtype=np.int64)
    for index, cat in enumerate(CATEGORIES):
        # Names are unique across categories too, so a vendor name tells its category.
        def make(cat=cat) -> str:
            stem = fake.last_name() if fake.random.random() < 0.7 else fake.city()
            return f"{stem} {fake.random.choice(cat.suffixes)}"

        mine = [n for n in _distinct(make, cat.vendors * 2) if n not in taken][: cat.vendors]
        taken.update(mine)
        bounds[index] = (len(names), len(names) + len(mine))
        names.extend(mine)
        category.extend([index] * len(mine))
        cdf = np.cumsum(zipf_weights(len(mine), 1.1))
        cdf[-1] = 1.0  # no float shortfall at the category's end
        keyed.append(index + cdf)
    return VendorPool(
        names=tuple(names),
        category=np.array(category, dtype=np.int64),
        keyed_cdf=np.concatenate(keyed),
        bounds=bounds,
    )
