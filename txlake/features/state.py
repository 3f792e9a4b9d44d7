"""What the features job has done so far: a small JSON object in the lake bucket.

- `silver_version`: the version of silver `transactions` the daily partials
  reflect. Changes committed after it (read from the table's change data
  feed) mark the days they touch as stale.
- `days`: the UTC days whose partials exist (a day without any transaction
  has no partial rows, so the table alone cannot tell "computed" from "empty").
- `weeks`: the as-of dates whose rows this job wrote to gold. A week not
  listed is written straight away; a listed one is first compared with what
  gold holds, so a re-run that changes nothing commits nothing. (Asking gold
  itself costs a scan plan of the table, ~1 s of a 4 s weekly run; a wrong
  answer either way only costs a comparison or a commit, never a wrong row.)

Written after the tables it describes: a crash in between only makes the
next run recompute some days again, which changes nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import date

from botocore.exceptions import ClientError

from txlake.lake.storage import s3_client
from txlake.settings import Settings


@dataclass
class JobState:
    silver_version: int | None = None
    days: set[date] = field(default_factory=set)
    weeks: set[date] = field(default_factory=set)

    def to_json(self) -> str:
        return json.dumps({"silver_version": self.silver_version,
                           "days": sorted(d.isoformat() for d in self.days),
                           "weeks": sorted(d.isoformat() for d in self.weeks)})

    @classmethod
    def from_json(cls, text: str) -> JobState:
        data = json.loads(text)
        return cls(data.get("silver_version"),
                   {date.fromisoformat(d) for d in data.get("days", [])},
                   {date.fromisoformat(d) for d in data.get("weeks", [])})


def load(settings: Settings, key: str) -> JobState:
    try:
        body = s3_client(settings).get_object(Bucket=settings.lake_bucket, Key=key)["Body"].read()
    except ClientError as error:
        if error.response.get("Error", {}).get("Code") in ("NoSuchKey", "404"):
            return JobState()
        raise
    return JobState.from_json(body.decode())


def save(settings: Settings, key: str, state: JobState) -> None:
    s3_client(settings).put_object(Bucket=settings.lake_bucket, Key=key, Body=state.to_json().encode())
