"""Runs the Deequ checks inside the quality runtime (pyspark 3.5 + pydeequ).

This file is executed by the quality runtime's own interpreter (see
runtime.py), which has pyspark, delta-spark and pydeequ but not txlake, so it
imports nothing from txlake. It reads one JSON job on stdin (Spark settings,
jars, table paths and filters, checks: secrets travel there, never in argv)
and prints one JSON line of results on stdout; progress goes to stderr.
"""

from __future__ import annotations

import json
import os
import sys
import time


def say(message: str) -> None:
    print(f"[txlake] quality: {message}", file=sys.stderr, flush=True)


def _session(job: dict):
    from pyspark.sql import SparkSession

    builder = (SparkSession.builder.appName("txlake-quality")
               .config("spark.driver.extraClassPath", ":".join(job["jars"]))
               .config("spark.sql.extensions", "io.delta.sql.DeltaSparkSessionExtension")
               .config("spark.sql.catalog.spark_catalog",
                       "org.apache.spark.sql.delta.catalog.DeltaCatalog"))
    for key, value in job["spark_conf"].items():
        builder = builder.config(key, value)
    spark = builder.getOrCreate()
    spark.sparkContext.setLogLevel("ERROR")
    return spark


def _constraint(check, spec: dict):
    """Adds the spec's one constraint to a pydeequ Check; returns the Deequ
    analyzer (name, instance) whose metric the constraint judges."""
    kind, columns = spec["kind"], spec["columns"]
    if kind == "complete":
        return check.isComplete(columns[0]), ("Completeness", columns[0])
    if kind == "unique" and len(columns) == 1:
        return check.isUnique(columns[0]), ("Uniqueness", columns[0])
    if kind == "unique":
        return check.isPrimaryKey(columns[0], *columns[1:]), ("Uniqueness", ",".join(columns))
    if kind == "contained":
        return (check.isContainedIn(columns[0], list(spec["values"])),
                ("Compliance", f"{columns[0]} contained in {','.join(spec['values'])}"))
    if kind == "satisfies":
        return check.satisfies(spec["condition"], spec["name"]), ("Compliance", spec["name"])
    raise ValueError(f"unknown check kind {kind!r}")


def _run_table(spark, table: dict, specs: list[dict]) -> list[dict]:
    from pydeequ.checks import Check, CheckLevel
    from pydeequ.verification import VerificationResult, VerificationSuite

    data = spark.read.format("delta").load(table["path"])
    if table.get("where"):
        data = data.where(table["where"])
    rows = data.count()
    if rows == 0:
        return [{"name": s["name"], "status": "skipped", "metric": None, "rows": 0,
                 "message": "no rows to check"} for s in specs]
    suite = VerificationSuite(spark).onData(data)
    analyzers = {}
    for spec in specs:
        level = CheckLevel.Error if spec["severity"] == "critical" else CheckLevel.Warning
        check, analyzer = _constraint(Check(spark, level, spec["name"]), spec)
        analyzers[spec["name"]] = analyzer
        suite = suite.addCheck(check)
    result = suite.run()
    metrics = {(m["name"], m["instance"]): m["value"]
               for m in VerificationResult.successMetricsAsDataFrame(spark, result).collect()}
    out = []
    for row in VerificationResult.checkResultsAsDataFrame(spark, result).collect():
        name = row["check"]
        out.append({"name": name, "status": "passed" if row["constraint_status"] == "Success" else "failed",
                    "metric": metrics.get(analyzers[name]), "rows": rows,
                    "message": row["constraint_message"] or ""})
    return out


def main() -> None:
    job = json.load(sys.stdin)
    started = time.monotonic()
    spark = _session(job)
    say(f"Spark {spark.version} with Deequ ready in {time.monotonic() - started:.0f}s")
    results = []
    for name, table in job["tables"].items():
        specs = [c for c in job["checks"] if c["table"] == name]
        if not specs:
            continue
        t0 = time.monotonic()
        results.extend(_run_table(spark, table, specs))
        say(f"{name}: {len(specs)} check(s) in {time.monotonic() - t0:.1f}s")
    print(json.dumps({"results": results}), flush=True)
    _stop(spark)


def _stop(spark) -> None:
    """Stop Spark and leave. pydeequ keeps Py4J's callback server running,
    and with it `spark.stop()` can wait forever (the results are out by now,
    so a stop that hangs must not hold up the caller)."""
    import threading

    spark.sparkContext._gateway.shutdown_callback_server()
    stopper = threading.Thread(target=spark.stop, daemon=True)
    stopper.start()
    stopper.join(timeout=30)
    # The JVM exits when its parent's pipe closes.
    os._exit(0)


if __name__ == "__main__":
    os.environ.setdefault("SPARK_VERSION", "3.5")  # pydeequ refuses to import without it
    main()
