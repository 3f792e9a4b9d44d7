"""Source schema changes: an added nullable column flows through; others stop ingest."""

from __future__ import annotations

import uuid

import pytest

from txlake.cdc.evolution import SchemaChangeError
from txlake.cdc.tables import CUSTOMERS
from txlake.lake import tables as lake

pytestmark = pytest.mark.stack


def test_an_added_nullable_column_reaches_silver_with_its_values(stack, spark, pg, ingest_now,
                                                                 reconcile_now):
    user_id = f"evo-{uuid.uuid4().hex[:8]}"
    pg.execute("ALTER TABLE customers ADD COLUMN IF NOT EXISTS loyalty_tier text")
    pg.execute("INSERT INTO customers (user_id, name, loyalty_tier) VALUES (%s, 'Evo', 'gold')",
               (user_id,))

    ingest_now()

    silver = spark.read.format("delta").load(lake.silver(CUSTOMERS).path(stack))
    assert "loyalty_tier" in silver.columns
    assert silver.where(f"user_id = '{user_id}'").first()["loyalty_tier"] == "gold"
    report = reconcile_now()
    assert report["clean"], report


def test_a_retyped_column_stops_ingest_with_a_message_naming_it(stack, pg, ingest_now):
    # A column of its own, never filled: retyping it (which PostgreSQL does
    # without change events) then changes no value the lake holds.
    pg.execute("ALTER TABLE customers ADD COLUMN IF NOT EXISTS retype_probe text")
    ingest_now()  # silver knows retype_probe as a string
    pg.execute("ALTER TABLE customers ALTER COLUMN retype_probe TYPE integer USING NULL")
    try:
        with pytest.raises(SchemaChangeError, match="retype_probe changed type"):
            ingest_now()
    finally:
        pg.execute("ALTER TABLE customers ALTER COLUMN retype_probe TYPE text")
    ingest_now()  # back to what the lake knows: ingest runs again
