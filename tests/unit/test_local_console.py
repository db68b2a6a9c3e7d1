"""Local mode's console files: index revalidated, hashed assets cached for good, nothing outside the build."""

import pytest
from exhaust.errors import NotFound
from exhaust_devkit.local.console import CONSOLE_DIR_VARIABLE, console_file, is_console_path


@pytest.fixture
def build(tmp_path, monkeypatch):
    (tmp_path / "assets").mkdir()
    (tmp_path / "index.html").write_text("<!doctype html><title>console</title>")
    (tmp_path / "assets" / "index-abc123.js").write_text("export {}")
    (tmp_path.parent / "secret.txt").write_text("not for the browser")
    monkeypatch.setenv(CONSOLE_DIR_VARIABLE, str(tmp_path))
    return tmp_path


@pytest.mark.parametrize("path", ["/console", "/console/", "/console/index.html"])
def test_the_console_paths_answer_the_index_revalidated_each_time(build, path):
    body, headers = console_file(path)
    assert body.startswith(b"<!doctype html>")
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert headers["Cache-Control"] == "no-cache"
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_hashed_assets_are_cached_for_a_year(build):
    body, headers = console_file("/console/assets/index-abc123.js")
    assert body == b"export {}"
    assert headers["Content-Type"].startswith(("text/javascript", "application/javascript"))
    assert headers["Cache-Control"] == "public, max-age=31536000, immutable"


@pytest.mark.parametrize("path", ["/console/../secret.txt", "/console/assets/../../secret.txt", "/console/nope.js"])
def test_nothing_outside_the_build_nor_missing_is_served(build, path):
    with pytest.raises(NotFound, match="No console file"):
        console_file(path)


def test_an_unbuilt_console_says_how_to_build_it(tmp_path, monkeypatch):
    monkeypatch.setenv(CONSOLE_DIR_VARIABLE, str(tmp_path / "missing"))
    with pytest.raises(NotFound, match="run `make console`"):
        console_file("/console")


def test_only_console_paths_are_the_consoles():
    assert is_console_path("/console")
    assert is_console_path("/console/assets/x.js")
    assert not is_console_path("/consoles")
    assert not is_console_path("/api/console")
