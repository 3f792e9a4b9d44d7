"""Reading back what the generator wrote, in a form easy to compare."""

from __future__ import annotations

from datetime import UTC

import psycopg
import pyarrow as pa

from txlake.generate import transactions as tx
from txlake.generate.pools import vendor_pool

TX_SQL = (
    "SELECT transaction_id, user_id, amount, vendor, source, transaction_time, updated_at "
    "FROM transactions ORDER BY transaction_id COLLATE \"C\""
)


def db_transactions(pg: psycopg.Connection) -> dict[str, tuple]:
    """transaction_id -> (user_id, amount, vendor, source, time, updated_at), times in UTC."""
    out = {}
    for tid, user, amount, vendor, source, happened, updated in pg.execute(TX_SQL):
        out[tid] = (user, amount, vendor, source, happened.astimezone(UTC),
                    updated.astimezone(UTC))
    return out


def snapshot(pg: psycopg.Connection) -> tuple[list, list]:
    customers = pg.execute("SELECT * FROM customers ORDER BY user_id COLLATE \"C\"").fetchall()
    return customers, pg.execute(TX_SQL).fetchall()


def generated_day(users: list[str], day, count: int, seed: int, late_share: float
                  ) -> dict[str, tuple]:
    """What the day's inserts are before any update or delete (pure generation)."""
    batch = tx.DayBatch.build(tx.DaySpec(day, count, seed, late_share), sorted(users),
                              vendor_pool(seed))
    table = pa.concat_tables(batch.chunk(i) for i in range(batch.chunks))
    out = {}
    for row in table.to_pylist():
        out[row["transaction_id"]] = (
            row["user_id"], row["amount"], row["vendor"], row["source"],
            row["transaction_time"].replace(tzinfo=UTC), row["updated_at"].replace(tzinfo=UTC),
        )
    return out
