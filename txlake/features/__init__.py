"""Weekly user features (gold), computed incrementally from silver transactions."""

from txlake.features.job import FeaturesRun, as_of_range, compute_week, run
from txlake.features.tables import DAILY, FEATURES, FeaturePaths

__all__ = ["DAILY", "FEATURES", "FeaturePaths", "FeaturesRun", "as_of_range", "compute_week", "run"]
