"""Vendor categories: what drives amounts and channels in generated transactions.

The numbers are plausible card-spending shapes, not fitted to any data set:
amounts are log-normal per category (a median and a spread), channel mixes
differ per category (fuel is bought in store, subscriptions online, cash only
at ATMs), and the category shares set the overall channel split to roughly
45% in store, 25% mobile, 22% online and 8% ATM.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

# The `source` column's values, in the order of `Category.channels`.
CHANNELS = ("online", "in_store", "mobile", "atm")


@dataclass(frozen=True)
class Category:
    name: str
    share: float  # of all transactions
    median: float  # amount median in currency units
    sigma: float  # log-normal spread of the amount
    channels: tuple[float, float, float, float]  # online, in_store, mobile, atm
    vendors: int  # how many merchants the category has
    suffixes: tuple[str, ...]  # merchant name endings, so names hint at the category


CATEGORIES: tuple[Category, ...] = (
    Category("grocery", 0.21, 42.0, 0.70, (0.08, 0.77, 0.15, 0.0), 120,
             ("Market", "Grocers", "Foods", "Supermarket", "Fresh Market")),
    Category("restaurant", 0.17, 26.0, 0.60, (0.05, 0.70, 0.25, 0.0), 300,
             ("Grill", "Bistro", "Kitchen", "Cafe", "Diner", "Pizzeria")),
    Category("fuel", 0.07, 48.0, 0.35, (0.0, 0.88, 0.12, 0.0), 40,
             ("Fuel", "Gas", "Petroleum", "Service Station")),
    Category("retail", 0.11, 55.0, 0.90, (0.35, 0.50, 0.15, 0.0), 200,
             ("Outfitters", "Apparel", "Store", "Boutique", "Goods")),
    Category("electronics", 0.03, 160.0, 1.00, (0.55, 0.30, 0.15, 0.0), 40,
             ("Electronics", "Digital", "Tech", "Computers")),
    Category("travel", 0.03, 320.0, 0.90, (0.70, 0.05, 0.25, 0.0), 40,
             ("Airlines", "Travel", "Hotels", "Car Rental")),
    Category("subscription", 0.08, 13.0, 0.50, (0.60, 0.0, 0.40, 0.0), 60,
             ("Streaming", "Media", "Cloud", "Games")),
    Category("utilities", 0.04, 90.0, 0.50, (0.80, 0.0, 0.20, 0.0), 30,
             ("Energy", "Water", "Telecom", "Power")),
    Category("pharmacy", 0.06, 24.0, 0.80, (0.10, 0.80, 0.10, 0.0), 60,
             ("Pharmacy", "Drugstore", "Health")),
    Category("transport", 0.12, 17.0, 0.60, (0.20, 0.0, 0.80, 0.0), 30,
             ("Rides", "Transit", "Taxi", "Parking")),
    Category("cash", 0.08, 80.0, 0.70, (0.0, 0.0, 0.0, 1.0), 50,
             ("Bank ATM", "Credit Union ATM")),
)

CASH = next(i for i, c in enumerate(CATEGORIES) if c.name == "cash")
# ATMs dispense notes: cash amounts are whole multiples of this.
CASH_STEP = 20
# Keeps a rare extreme draw well inside numeric(12,2).
MAX_AMOUNT_CENTS = 5_000_000_00


def category_cdf() -> np.ndarray:
    shares = np.array([c.share for c in CATEGORIES])
    return np.cumsum(shares / shares.sum())


def channel_cdf() -> np.ndarray:
    """Cumulative channel probabilities, one row per category."""
    probs = np.array([c.channels for c in CATEGORIES], dtype=float)
    return np.cumsum(probs / probs.sum(axis=1, keepdims=True), axis=1)


def log_medians() -> np.ndarray:
    return np.log([c.median for c in CATEGORIES])


def sigmas() -> np.ndarray:
    return np.array([c.sigma for c in CATEGORIES])
