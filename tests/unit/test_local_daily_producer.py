"""Local mode's daily producer: what it produces when UTC midnight passes (a fake clock, no threads)."""

import datetime as dt

from exhaust.settings import RuntimeSettings
from exhaust.standard.dates import DateRange
from exhaust_devkit.standard.local import LocalDailyProducer

START = dt.date(2026, 11, 18)


def producer(clock, produced, fail=False, marks=None, ready_until=None):
    def produce(days):
        if fail:
            raise RuntimeError("moto went away")
        produced.append(days)

    marked = marks if marks is not None else []
    return LocalDailyProducer(
        RuntimeSettings(),
        today=lambda: clock[0],
        produce=produce,
        mark_ready=marked.append,
        ready_until=lambda: ready_until,
    )


def epoch_ms(day: dt.date) -> int:
    return int(dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC).timestamp() * 1000)


def test_nothing_happens_within_a_day():
    produced: list[DateRange] = []
    assert producer([START], produced).tick(START) == START
    assert produced == []


def test_the_day_that_ended_is_produced_once():
    clock, produced = [START + dt.timedelta(days=1)], list[DateRange]()
    daily = producer(clock, produced)
    assert daily.tick(START) == clock[0]
    assert daily.tick(clock[0]) == clock[0]
    assert produced == [DateRange(START, START)]


def test_missed_midnights_are_caught_up_in_one_range():
    clock, produced = [START + dt.timedelta(days=3)], list[DateRange]()
    producer(clock, produced).tick(START)
    assert produced == [DateRange(START, START + dt.timedelta(days=2))]


def test_a_failure_is_retried_at_the_next_check():
    clock = [START + dt.timedelta(days=1)]
    assert producer(clock, [], fail=True).tick(START) == START


def test_the_completeness_marker_moves_to_the_midnight_that_ended_and_not_on_failure():
    clock, marks = [START + dt.timedelta(days=3)], list[dt.datetime]()
    producer(clock, [], marks=marks).tick(START)
    assert marks == [dt.datetime(2026, 11, 21, tzinfo=dt.UTC)]
    failed_marks: list[dt.datetime] = []
    producer(clock, [], fail=True, marks=failed_marks).tick(START)
    assert failed_marks == []


def test_a_state_restored_after_days_off_produces_the_days_since_its_marker() -> None:
    """The marker says the lake was complete up to START's midnight; three midnights passed while it was off."""
    clock = [START + dt.timedelta(days=3)]
    produced: list[DateRange] = []
    marks: list[dt.datetime] = []
    daily = producer(clock, produced, marks=marks, ready_until=epoch_ms(START))
    daily.stopping.set()  # run() does its catch-up, then sees the stop at the first wait
    daily.run()
    assert produced == [DateRange(START, START + dt.timedelta(days=2))]
    assert marks == [dt.datetime(2026, 11, 21, tzinfo=dt.UTC)]


def test_a_fresh_or_current_state_produces_nothing_at_start() -> None:
    for ready_until in (None, epoch_ms(START)):
        produced: list[DateRange] = []
        daily = producer([START], produced, ready_until=ready_until)
        daily.stopping.set()
        daily.run()
        assert produced == []


def test_catch_up_reaches_back_no_further_than_a_fresh_start_does() -> None:
    clock = [START + dt.timedelta(days=400)]
    daily = producer(clock, [], ready_until=epoch_ms(START))
    assert daily.first_unproduced_day() == clock[0] - dt.timedelta(days=14)
