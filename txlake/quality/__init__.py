"""Data-quality gates on silver and gold: Deequ checks, recorded in `quality_results`."""
