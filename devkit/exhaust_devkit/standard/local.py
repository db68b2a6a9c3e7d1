"""Local mode's stand-in for the daily EventBridge schedule: after each UTC midnight, produce the day that ended."""

from __future__ import annotations

import datetime as dt
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from exhaust import readiness
from exhaust.observability import logger
from exhaust.settings import RuntimeSettings
from exhaust.standard.dates import DateRange

from exhaust_devkit.standard.seed import LOCAL_DAYS

CHECK_EVERY_SECONDS = 60.0
MS_PER_DAY = 86_400_000


def today_utc() -> dt.date:
    return dt.datetime.now(dt.UTC).date()


@dataclass
class LocalDailyProducer:
    settings: RuntimeSettings
    stopping: threading.Event = field(default_factory=threading.Event)
    check_every_seconds: float = CHECK_EVERY_SECONDS
    today: Callable[[], dt.date] = today_utc
    produce: Callable[[DateRange], Any] | None = None
    mark_ready: Callable[[dt.datetime], Any] | None = None
    ready_until: Callable[[], int | None] | None = None

    def run(self) -> None:
        """Until `stopping` is set, from the first day not yet produced (a restored state may be days old)."""
        last_seen = self.first_unproduced_day()
        if last_seen < self.today():
            last_seen = self.tick(last_seen)
        while not self.stopping.wait(self.check_every_seconds):
            last_seen = self.tick(last_seen)

    def tick(self, last_seen: dt.date) -> dt.date:
        """Produce every day that ended since `last_seen` (a laptop asleep over several midnights catches up)."""
        today = self.today()
        if today <= last_seen:
            return last_seen
        days = DateRange(last_seen, today - dt.timedelta(days=1))
        try:
            self._produce(days)
        except Exception:
            logger.exception("local daily producer failed; it retries at the next check")
            return last_seen
        logger.info("standard datasets produced", extra={"from": days.start.isoformat(), "to": days.end.isoformat()})
        return today

    def first_unproduced_day(self) -> dt.date:
        """The day the completeness marker ends on, at most LOCAL_DAYS back (what a fresh start produces).

        A fresh start's seeder has produced every day before today; a state restored after the laptop was off over
        midnights has the marker of its last run, and the days since are produced now rather than never.
        """
        today = self.today()
        until_ms = self.ready_until() if self.ready_until is not None else readiness.read_marker(self.settings.lake_uri)
        if until_ms is None:
            return today
        marker_day = dt.date(1970, 1, 1) + dt.timedelta(days=until_ms // MS_PER_DAY)
        return min(today, max(marker_day, today - dt.timedelta(days=LOCAL_DAYS)))

    def _produce(self, days: DateRange) -> None:
        if self.produce is not None:
            self.produce(days)
        else:
            from exhaust.standard.producer import producer_from_settings  # pyarrow, only when a day ends

            producer_from_settings(self.settings).produce(days)
        # Local mode has no loader: the daily run stands in for it and says the lake is complete up to the midnight
        # that ended (exhaust.readiness).
        until = readiness.midnight_utc(days.end + dt.timedelta(days=1))
        if self.mark_ready is not None:
            self.mark_ready(until)
        else:
            readiness.write_marker(self.settings.lake_uri, until, "local-daily-producer")
