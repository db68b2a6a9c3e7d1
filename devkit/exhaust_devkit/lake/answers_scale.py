"""The telemetry and observations of the `answers` scale: the volume the legacy and export APIs must answer.

100,000 events a day of the sample partner (and a few of another) and 100,000 observations a day, over the same
60 days as the other scales: 6,000,000 of each. Built column-wise one day at a time (a day is one part of
`Lake.write`, so memory holds one day), from a random stream of its own, in the shapes the other scales write:
the same columns, the same compact event JSON, observations of the same kinds.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Iterator
from typing import TYPE_CHECKING

import pyarrow as pa
import pyarrow.compute as pc
from exhaust.lake import schemas

from exhaust_devkit.lake.vocabulary import EVENT_TYPES, OBSERVATION_KINDS

if TYPE_CHECKING:
    from exhaust_devkit.lake.generator import Generator

OTHER_PARTNER = "org.other.partner"
OTHER_PARTNER_EVENTS = 3
MS_PER_DAY = 86_400_000
FIRST_EVENT_MS = 6 * 3600 * 1000


class AnswersVolume:
    def __init__(self, generator: Generator, days: int):
        self.generator = generator
        self.days = days
        self.rng = random.Random(f"{generator.seed}:answers")
        self.contents = [generator.ids.content() for _ in range(12)]

    def _days(self) -> Iterator[dt.date]:
        today = self.generator.today
        for offset in range(self.days, 0, -1):
            yield today - dt.timedelta(days=offset)

    def telemetry(self) -> Iterator[pa.Table]:
        for day in self._days():
            yield pa.concat_tables(
                [
                    self._events(day, OTHER_PARTNER, OTHER_PARTNER_EVENTS),
                    self._events(day, self.generator.partner_id, self.generator.scale.telemetry_per_day),
                ]
            )

    def _events(self, day: dt.date, partner: str, count: int) -> pa.Table:
        rng = self.rng
        random_ = rng.random
        channel = self.generator.channel
        midnight_ms = int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp() * 1000)
        # Spread over the day from 06:00, in time order, at most MS_PER_DAY apart in total.
        step = max(1, (MS_PER_DAY - FIRST_EVENT_MS) // max(count, 1))
        ets_ms = [midnight_ms + FIRST_EVENT_MS + index * step + int(random_() * step) for index in range(count)]
        eids = [EVENT_TYPES[index % len(EVENT_TYPES)] for index in range(count)]
        durations = [float(int(random_() * 890) + 10) if eid == "END" else 0.0 for eid in eids]
        event_ids = [f"{rng.getrandbits(96):024x}" for _ in range(count)]
        actors = [f"actor-{int(random_() * 5000)}" for _ in range(count)]
        sessions = [f"session-{day:%Y%m%d}-{index // 4}" for index in range(count)]
        contents = [self.contents[int(random_() * len(self.contents))] for _ in range(count)]
        eid_array = pa.array(eids, pa.string())
        edata = pc.if_else(
            pc.equal(eid_array, "END"),
            pc.binary_join_element_wise('{"duration":', pc.cast(pa.array(durations), pa.string()), ".0}", ""),
            pc.binary_join_element_wise('{"type":"', pc.utf8_lower(eid_array), '"}', ""),
        )
        event_json = pc.binary_join_element_wise(
            '{"eid":"',
            eid_array,
            '","mid":"',
            pa.array(event_ids),
            '","ets":',
            pc.cast(pa.array(ets_ms, pa.int64()), pa.string()),
            ',"actor":{"id":"',
            pa.array(actors),
            f'","type":"User"}},"context":{{"channel":"{channel}","sid":"',
            pa.array(sessions),
            f'","pdata":{{"id":"{partner}"}}}},"object":{{"id":"',
            pa.array(contents),
            '","type":"Content"},"edata":',
            edata,
            "}",
            "",
        )
        return pa.table(
            {
                "event_date": pa.array([day] * count, pa.date32()),
                "channel": pa.array([channel] * count, pa.string()),
                "partner_id": pa.array([partner] * count, pa.string()),
                "event_id": pa.array(event_ids, pa.string()),
                "eid": eid_array,
                "ets": pa.array(ets_ms, pa.int64()).cast(schemas.TIMESTAMP),
                "session_id": pa.array(sessions, pa.string()),
                "actor_id": pa.array(actors, pa.string()),
                "content_id": pa.array(contents, pa.string()),
                "duration_seconds": pa.array(durations, pa.float64()),
                "event_json": event_json,
            },
            schema=schemas.TELEMETRY,
        )

    def observations(self) -> Iterator[pa.Table]:
        per_day = self.generator.scale.observations_per_day
        uniform = self.rng.uniform
        kinds = [OBSERVATION_KINDS[index % len(OBSERVATION_KINDS)] for index in range(per_day)]
        step = MS_PER_DAY // per_day
        for day in self._days():
            midnight_ms = int(dt.datetime.combine(day, dt.time(), tzinfo=dt.UTC).timestamp() * 1000)
            yield pa.table(
                {
                    "observed_at": pa.array([midnight_ms + index * step for index in range(per_day)], pa.int64()).cast(
                        schemas.TIMESTAMP
                    ),
                    "producer_type": [kind[0] for kind in kinds],
                    "producer_id": [f"{kind[0]}-{index % 3 + 1}" for index, kind in enumerate(kinds)],
                    "metric": [kind[1] for kind in kinds],
                    "unit": [kind[2] for kind in kinds],
                    "value": [round(uniform(kind[3], kind[4]), 2) for kind in kinds],
                    "channel": [self.generator.channel] * per_day,
                },
                schema=schemas.OBSERVATIONS,
            )
