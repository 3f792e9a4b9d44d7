"""The vendor dictionary: a stable int id per vendor name (see VENDOR_IDS)."""

from __future__ import annotations

from pyspark.sql import DataFrame, SparkSession
from pyspark.sql import functions as F

from txlake.artifacts import say
from txlake.errors import TxlakeError

MAX_ID = 2**31 - 1


def ids_for(spark: SparkSession, path: str, rows: DataFrame) -> DataFrame:
    """The dictionary at `path` (vendor, id), extended first by the vendors of
    `rows` it does not know yet. New names get the next ids in name order, so
    the same input always gives the same ids."""
    known = spark.read.format("delta").load(path)
    new = (rows.select("vendor").where(F.col("vendor").isNotNull()).distinct()
           .join(known, "vendor", "left_anti"))
    names = sorted(row["vendor"] for row in new.collect())
    if not names:
        return known
    [[top]] = known.agg(F.max("id")).collect()
    first = (top or 0) + 1
    if first + len(names) - 1 > MAX_ID:
        raise TxlakeError(f"features: the vendor dictionary at {path} is full ({MAX_ID:,} ids)")
    added = spark.createDataFrame([(name, first + i) for i, name in enumerate(names)],
                                  "vendor string, id int")
    added.write.format("delta").mode("append").save(path)
    say(f"features: {len(names):,} new vendor(s) in the dictionary")
    return spark.read.format("delta").load(path)
