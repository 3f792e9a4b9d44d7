"""Decoding Debezium events: exact money, UTC instants, and reasons for bad input."""

from __future__ import annotations

import json

import pytest
from pyspark.sql import functions as F

from txlake.cdc import events
from txlake.cdc.tables import CUSTOMERS, TRANSACTIONS

pytestmark = pytest.mark.stack


def _records(spark, *values, table="transactions"):
    rows = [(f"txlake.public.{table}", 0, i, None, b"k", v if v is None else
             (v if isinstance(v, bytes) else json.dumps(v).encode())) for i, v in enumerate(values)]
    return spark.createDataFrame(
        rows, "topic string, partition int, offset long, timestamp timestamp, key binary, "
              "value binary")


def _event(op="c", amount="12.30", lsn=42, **after):
    row = {"transaction_id": "t1", "user_id": "u1", "amount": amount, "vendor": "V",
           "source": "online", "transaction_time": "2026-11-20T23:59:59.999999Z",
           "updated_at": None, **after}
    image = None if op == "d" else row
    return {"op": op, "before": row if op in ("u", "d") else None, "after": image,
            "source": {"lsn": lsn, "txId": 7, "ts_ms": 1, "table": "transactions"}}


def test_a_good_event_decodes_to_exact_decimal_and_utc_timestamp(spark):
    decoded = events.decode(events.parse(_records(spark, _event())), TRANSACTIONS).first()

    assert decoded.error is None
    assert decoded.key == "t1" and decoded.lsn == 42
    assert str(decoded.row.amount) == "12.30"
    assert decoded.row.transaction_time.isoformat().startswith("2026-11-20T23:59:59.999999")


def test_a_delete_uses_the_before_image(spark):
    decoded = events.decode(events.parse(_records(spark, _event(op="d"))), TRANSACTIONS).first()

    assert decoded.error is None and decoded.key == "t1" and decoded.op == "d"


@pytest.mark.parametrize(("value", "reason"), [
    (b"{not json", "not a Debezium change event"),
    (_event(op="z"), "unknown op z"),
    ({**_event(), "source": {"txId": 1}}, "without source.lsn"),
    (_event(amount="12.345"), "cannot convert amount exactly"),
    (_event(amount="lots"), "cannot convert amount exactly"),
    (_event(transaction_time="yesterday"), "cannot convert transaction_time"),
    (_event(transaction_id=None), "without transaction_id"),
])
def test_bad_input_gets_a_reason_instead_of_silently_becoming_null(spark, value, reason):
    decoded = events.decode(events.parse(_records(spark, value)), TRANSACTIONS).first()

    assert decoded.error is not None and reason in decoded.error


def test_one_pass_summarizes_counts_lsn_ranges_and_unknown_columns(spark):
    decoded = events.decode(events.parse(_records(
        spark, _event(loyalty="gold", lsn=50), _event(op="d", transaction_id="t9", lsn=60),
        _event(transaction_id="t5", lsn=70), b"garbage", None)),
        TRANSACTIONS)

    summary = events.summarize([(decoded, TRANSACTIONS)])["transactions"]

    # The tombstone (a null value) is neither a change nor a dead letter.
    assert (summary.good, summary.bad, summary.tombstones, summary.deletes) == (3, 1, 1, 1)
    assert (summary.low_lsn, summary.high_lsn, summary.high_delete_lsn) == (50, 70, 60)
    assert summary.unknown_columns == ["loyalty"] and summary.missing_columns == []


def test_column_drift_is_the_union_over_all_images_of_unknown_and_lacking_columns(spark):
    without_vendor = _event(lsn=51)
    del without_vendor["after"]["vendor"]
    decoded = events.decode(events.parse(_records(
        spark, _event(lsn=50), without_vendor, _event(op="d", lsn=52, tier="gold"),
        {**_event(lsn=53), "after": "not an object"})), TRANSACTIONS)

    summary = events.summarize([(decoded, TRANSACTIONS)])["transactions"]

    assert summary.unknown_columns == ["tier"] and summary.missing_columns == ["vendor"]


def test_every_table_of_a_batch_is_summarized_at_once_with_the_callers_own_aggregates(spark):
    customer = {"op": "c", "before": None,
                "after": {"user_id": "u7", "name": "Ann", "age": 41, "gender": "F",
                          "location": "Oslo", "occupation": "pilot", "day_start": 20000,
                          "updated_at": None},
                "source": {"lsn": 90, "txId": 8, "ts_ms": 1, "table": "customers"}}
    transactions = events.decode(events.parse(_records(
        spark, _event(transaction_id="t2", lsn=50), _event(transaction_id="t8", lsn=60))),
        TRANSACTIONS)
    customers = events.decode(events.parse(_records(spark, customer, table="customers")),
                              CUSTOMERS)

    summaries = events.summarize([(transactions, TRANSACTIONS), (customers, CUSTOMERS)],
                                 extra={"top_key": F.max("key")})

    assert {name: (s.good, s.low_lsn, s.extra["top_key"]) for name, s in summaries.items()} == {
        "transactions": (2, 50, "t8"), "customers": (1, 90, "u7")}
    assert summaries["customers"].missing_columns == []
