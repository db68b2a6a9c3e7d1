"""A batch build's inputs travel as one value: frozen, and never showing the partner's password."""

import dataclasses
import datetime as dt

import pytest
from exhaust.builders import BatchBuild

PASSWORD = "partner-Secret-42"


def test_a_batch_build_never_shows_its_password_and_cannot_change() -> None:
    build = BatchBuild("progress-exhaust", "B1", "ch", PASSWORD, "/lake", dt.date(2026, 11, 2))

    assert PASSWORD not in repr(build)
    assert "B1" in repr(build)
    with pytest.raises(dataclasses.FrozenInstanceError):
        setattr(build, "password", "other")  # what a frozen dataclass refuses
