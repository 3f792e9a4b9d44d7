"""txlake: a change-data-capture lakehouse and feature store for transaction data."""

__version__ = "0.1.0"
