"""The tests are under mypy with no escape hatch: a fake that does not satisfy its port fails `make lint`."""

from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
SUPPRESSION = "type: " + "ignore"  # spelled apart, so this file does not match itself


def test_no_test_silences_mypy() -> None:
    silenced = [
        f"{path.relative_to(TESTS)}:{number}"
        for path in sorted(TESTS.rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1)
        if SUPPRESSION in line
    ]
    assert silenced == []
