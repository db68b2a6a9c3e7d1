"""Local mode's standard datasets: the last 14 days produced from the sample lake, so both get routes answer."""

from __future__ import annotations

import datetime as dt
from typing import Any

from exhaust.settings import RuntimeSettings

LOCAL_DAYS = 14


def seed_standard_datasets(settings: RuntimeSettings, channel: str, samples: dict[str, Any]) -> dict[str, Any]:
    """A Seeder (exhaust_devkit.local.runtime), run after the lake's: produce the days before today."""
    from exhaust.standard.dates import DateRange
    from exhaust.standard.producer import (
        PUBLIC_SUMMARY_ROLLUP,
        SUMMARY_CHANNEL_EXHAUST,
        SUMMARY_ROLLUP,
        producer_from_settings,
    )

    today = dt.datetime.now(dt.UTC).date()
    days = DateRange(today - dt.timedelta(days=LOCAL_DAYS), today - dt.timedelta(days=1))
    producer_from_settings(settings).produce(days)
    return {
        "samples": {
            "standardDatasetId": SUMMARY_ROLLUP,
            "channelSummaryDatasetId": SUMMARY_CHANNEL_EXHAUST,
            "publicDatasetId": PUBLIC_SUMMARY_ROLLUP,
            "datasetDays": {"from": days.start.isoformat(), "to": days.end.isoformat()},
        }
    }
