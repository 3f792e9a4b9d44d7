"""Randomized rounds of source changes, each followed by ingest: always reconciled."""

from __future__ import annotations

import random
import uuid

import pytest

pytestmark = pytest.mark.stack


def _random_round(pg, rng: random.Random, prefix: str, live: set[str], counter: list[int]) -> None:
    for _ in range(60):
        action = rng.random()
        if action < 0.35 or not live:
            counter[0] += 1
            key = f"{prefix}-{counter[0]:05d}"
            pg.execute("INSERT INTO transactions (transaction_id, user_id, amount, vendor, source,"
                       " transaction_time) VALUES (%s, %s, %s, 'Shop', 'online', now())",
                       (key, f"{prefix}-user", f"{rng.uniform(1, 500):.2f}"))
            live.add(key)
        elif action < 0.6:
            key = rng.choice(sorted(live))
            with pg.transaction():  # several updates of one key in one source transaction
                for _ in range(rng.randint(1, 3)):
                    pg.execute("UPDATE transactions SET amount = %s, updated_at = now()"
                               " WHERE transaction_id = %s", (f"{rng.uniform(1, 500):.2f}", key))
        elif action < 0.75:
            key = rng.choice(sorted(live))
            pg.execute("UPDATE transactions SET vendor = %s WHERE transaction_id = %s",
                       (rng.choice(["Acme", "Globex", None]), key))
        elif action < 0.9:
            key = rng.choice(sorted(live))
            pg.execute("DELETE FROM transactions WHERE transaction_id = %s", (key,))
            live.discard(key)
        else:  # delete, then insert the same key again with other values
            key = rng.choice(sorted(live))
            with pg.transaction():
                pg.execute("DELETE FROM transactions WHERE transaction_id = %s", (key,))
                pg.execute("INSERT INTO transactions (transaction_id, user_id, amount, source)"
                           " VALUES (%s, %s, 0.01, 'atm')", (key, f"{prefix}-user"))


def test_random_inserts_updates_deletes_and_reinserts_always_reconcile(pg, ingest_now,
                                                                       reconcile_now):
    rng = random.Random(20261123)
    prefix = f"rnd{uuid.uuid4().hex[:6]}"
    pg.execute("INSERT INTO customers (user_id, name) VALUES (%s, 'Random')", (f"{prefix}-user",))
    live: set[str] = set()
    counter = [0]
    for _ in range(4):
        _random_round(pg, rng, prefix, live, counter)

        ingest_now()

        report = reconcile_now()
        assert report["clean"], report
