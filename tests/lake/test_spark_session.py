"""The lake's Spark sessions keep the code they compile: a stream micro-batch
runs the same ~150 query shapes as the batch before it, and compiling them
all again cost a second or more per batch."""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.stack

# More shapes than Spark keeps by default (100), as many as one micro-batch runs.
SHAPES = 150


def _compilations(spark) -> int:
    """How many pieces of generated code this JVM has compiled so far."""
    metrics = spark.sparkContext._jvm.org.apache.spark.metrics.source.CodegenMetrics
    return metrics.METRIC_COMPILATION_TIME().getCount()


def _run_shapes(spark) -> None:
    for shape in range(SHAPES):
        # Spark writes a long literal into the code it generates: each value
        # makes a query of its own shape.
        spark.range(3).selectExpr(f"id * {shape} AS value").collect()


def test_query_shapes_run_again_compile_nothing_new(spark):
    _run_shapes(spark)
    compiled = _compilations(spark)

    _run_shapes(spark)

    assert _compilations(spark) == compiled
