"""The browser console in a real browser (Playwright driving Debian's chromium) against local mode, as a mentor uses it.

A screenshot of each step is saved under build/console-screenshots/ for a person to look at. Without chromium the
tests are skipped on a developer's machine (`make browser` installs it) and fail in CI, which installs it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import REPO_ROOT, LocalServiceProcess, run_exhaust
from tests.e2e_local.test_request_api import call

CHROMIUM = "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
SCREENSHOTS = REPO_ROOT / "build" / "console-screenshots"
CONSOLE_BUILD = REPO_ROOT / "build" / "console" / "index.html"
IN_CI = bool(os.environ.get("CI"))
# Bounds: a browser action, and a small progress-exhaust build in local mode from submit to SUCCESS.
ACTION_TIMEOUT_MS = 20_000
BUILD_TIMEOUT_MS = 120_000
PHONE = {"width": 375, "height": 800}

pytestmark = [
    pytest.mark.xdist_group("console-browser"),
    pytest.mark.skipif(
        not Path(CHROMIUM).exists() and not IN_CI,
        reason=f"{CHROMIUM} is not installed (`make browser` installs it); CI always runs these tests",
    ),
]


@pytest.fixture(scope="module")
def console_service(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """Local mode, its credentials, and a mentor's token made by the CLI: COURSE_ADMIN of the sample course."""
    assert CONSOLE_BUILD.is_file(), "the console is not built: run `make console` (make test builds it)"
    service = LocalServiceProcess(tmp_path_factory.mktemp("console"))
    credentials = service.start()
    try:
        made = run_exhaust(
            "token", "create", "--local-credentials", str(service.credentials_file), "--name", "a mentor",
            "--channel", credentials["channel"], "--role", "COURSE_ADMIN",
            "--course", credentials["samples"]["collectionId"], cwd=service.workdir,
        )  # fmt: skip
        assert made.returncode == 0, made.stderr
        yield {**credentials, "courseMentorToken": json.loads(made.stdout)["token"]}
    finally:
        service.stop()


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's browser is Debian's chromium (Playwright's own download is not available here)."""
    assert Path(CHROMIUM).exists(), f"{CHROMIUM} is missing: `make browser` installs it (CI runs it first)"
    return {**browser_type_launch_args, "executable_path": CHROMIUM, "args": CHROMIUM_ARGS, "headless": True}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args: dict[str, Any]) -> dict[str, Any]:
    return {**browser_context_args, "accept_downloads": True, "viewport": {"width": 1280, "height": 900}}


@pytest.fixture(scope="module", autouse=True)
def screenshots() -> None:
    shutil.rmtree(SCREENSHOTS, ignore_errors=True)
    SCREENSHOTS.mkdir(parents=True)


@pytest.fixture(autouse=True)
def bounded(page: Any) -> None:
    page.set_default_timeout(ACTION_TIMEOUT_MS)


def snap(page: Any, name: str) -> None:
    page.screenshot(path=str(SCREENSHOTS / f"{name}.png"), full_page=True)


def serious_violations(page: Any) -> list[str]:
    """axe-core's serious and critical findings on the page as it is now."""
    from axe_playwright_python.sync_playwright import Axe

    results = Axe().run(page)
    return [
        f"{violation['id']} ({violation['impact']}): {violation['help']}"
        for violation in results.response["violations"]
        if violation["impact"] in ("serious", "critical")
    ]


def sign_in_by_keyboard(page: Any, base_url: str, token: str, channel: str) -> None:
    page.goto(f"{base_url}/console")
    page.get_by_label("Access token").focus()
    page.keyboard.type(token)
    page.keyboard.press("Tab")
    page.keyboard.type(channel)
    page.keyboard.press("Enter")


def listed_course_ids(credentials: dict[str, Any], token: str, channel: str) -> set[str]:
    ids, cursor = set(), ""
    while True:
        answer_credentials = {**credentials, "token": token, "channel": channel}
        path = "/api/dataset/v1/courses?limit=50" + (f"&cursor={cursor}" if cursor else "")
        status, body = call(answer_credentials, "GET", path)
        assert status == 200, body
        ids |= {course["courseId"] for course in body["result"]["courses"]}
        cursor = body["result"].get("nextCursor")
        if not cursor:
            return ids


def test_a_wrong_token_shows_a_plain_message_and_is_not_kept(page: Any, console_service: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    sign_in_by_keyboard(page, console_service["baseUrl"], "exh_not-a-real-token", console_service["channel"])
    expect(page.get_by_role("alert")).to_contain_text("Your token was not accepted: it is unknown, expired or revoked")
    snap(page, "01-wrong-token")
    assert "exh_" not in page.url
    assert page.evaluate("() => Object.keys(sessionStorage).length") == 0
    expect(page.get_by_role("heading", name="Sign in")).to_be_visible()
    assert serious_violations(page) == []


def test_a_mentor_requests_progress_exhaust_and_downloads_it(page: Any, console_service: dict[str, Any]) -> None:
    from playwright.sync_api import expect

    credentials = console_service
    samples = credentials["samples"]
    mentor = credentials["courseMentorToken"]
    sign_in_by_keyboard(page, credentials["baseUrl"], mentor, credentials["channel"])
    expect(page.get_by_role("status")).to_contain_text("Signed in")
    assert mentor not in page.url
    assert page.evaluate("() => sessionStorage.getItem('exhaust.console.token')") == mentor
    assert page.evaluate("() => localStorage.length") == 0

    # Only its courses: the one its token names, not the channel's others nor the other organisation's.
    own = listed_course_ids(credentials, mentor, credentials["channel"])
    channel_wide = listed_course_ids(credentials, credentials["token"], credentials["channel"])
    others = listed_course_ids(credentials, credentials["adminToken"], "other-org-channel")
    assert own == {samples["collectionId"]}
    assert own < channel_wide
    assert not channel_wide & others
    seen: set[str] = set()
    while True:
        expect(page.locator("#course-list > li").first).to_be_visible()
        seen |= {
            re.sub(r"^course-", "", i) for i in page.locator("#course-list h3").evaluate_all("e => e.map(x => x.id)")
        }
        next_page = page.get_by_role("button", name="Next page")
        if next_page.is_disabled():
            break
        next_page.click()
        expect(page.get_by_text(re.compile(r"page \d+ of"))).to_be_visible()
    assert seen == own
    snap(page, "02-signed-in-courses")
    assert serious_violations(page) == []

    # Search, then choose the sample course's progress batch.
    page.get_by_label("Search courses and batches").fill("Arithmetic")
    expect(page.locator("#course-list > li")).to_have_count(1)
    page.locator(f"#batch-{samples['progressBatchId']}").check()
    expect(page.locator("#requests-caption")).to_contain_text("Basics of Arithmetic")

    # Only the datasets its role allows: org-pii-exhaust (ORG_ADMIN only) is not offered.
    expect(page.get_by_role("radio", name=re.compile(r"\(progress-exhaust\)"))).to_be_visible()
    expect(page.get_by_role("radio", name=re.compile(r"\(userinfo-exhaust\)"))).to_be_visible()
    expect(page.get_by_role("radio", name=re.compile(r"org-pii-exhaust"))).to_have_count(0)
    page.get_by_role("radio", name=re.compile(r"\(progress-exhaust\)")).check()
    page.get_by_label("Zip password").fill("short")
    expect(page.locator("#key-strength")).to_contain_text("Too short")
    key = "Mentor-Zip-Pass-2026!"
    page.get_by_label("Zip password").fill(key)
    expect(page.locator("#key-strength")).to_contain_text("Strong")
    snap(page, "03-request-form")
    page.get_by_role("button", name="Submit request").click()
    expect(page.get_by_role("status")).to_contain_text("Requested Course progress")
    assert page.get_by_label("Zip password").input_value() == ""
    assert key not in json.dumps(page.evaluate("() => ({...sessionStorage, ...localStorage})"))

    row = page.locator("#requests-body tr[data-request-id]").first
    expect(row).to_have_attribute("data-status", "SUCCESS", timeout=BUILD_TIMEOUT_MS)
    expect(row).to_contain_text("Ready to download")
    request_id = row.get_attribute("data-request-id")
    snap(page, "04-request-success")

    # Fresh links from read; the downloaded file's sha256 is the one shown, and the manifest's.
    row.get_by_role("button", name="Get files").click()
    link = page.locator("tr.files a.download").first
    expect(link).to_be_visible()
    shown_sha = page.locator("tr.files code.sha256").first.inner_text().strip()
    with page.expect_download() as download_info:
        link.click()
    downloaded = Path(download_info.value.path())
    assert hashlib.sha256(downloaded.read_bytes()).hexdigest() == shown_sha
    mentor_credentials = {**credentials, "token": mentor}
    status, read = call(
        mentor_credentials, "GET", f"/api/dataset/v1/request/read/{samples['collectionId']}?requestId={request_id}"
    )
    assert status == 200, read
    manifest = json.loads(urlopen_bytes(read["result"]["manifestUrl"]))
    assert shown_sha in {entry["sha256"] for entry in manifest["files"]}
    snap(page, "05-files")
    assert serious_violations(page) == []

    # Delete asks first; dismissing keeps the files.
    page.once("dialog", lambda dialog: dialog.dismiss())
    row.get_by_role("button", name="Delete").click()
    expect(page.locator("tr.files a.download").first).to_be_visible()
    page.once("dialog", lambda dialog: dialog.accept())
    row.get_by_role("button", name="Delete").click()
    expect(page.get_by_role("status")).to_contain_text("request was deleted")
    expect(row).to_contain_text("Finished, no files to download")
    expect(row.get_by_role("button", name="Get files")).to_have_count(0)
    snap(page, "06-deleted")

    # The channel's daily files are not a mentor's: the chart's place says so, and why.
    expect(page.locator("#usage-chart")).to_contain_text("You are not allowed to do this. dataset summary-rollup")
    page.set_viewport_size(PHONE)
    assert page.evaluate("() => document.documentElement.scrollWidth") <= PHONE["width"]
    snap(page, "07-phone")
    assert serious_violations(page) == []


def test_an_org_admin_sees_the_last_30_days_of_enrolments_and_completions(
    page: Any, console_service: dict[str, Any]
) -> None:
    """The chart's totals are the sums of the summary-rollup files' day totals, which are listed beside it."""
    from playwright.sync_api import expect

    credentials = console_service
    sign_in_by_keyboard(page, credentials["baseUrl"], credentials["token"], credentials["channel"])
    expect(page.locator("#usage-chart svg title")).to_have_text("Enrolments and completions per day")
    links = page.locator("#usage-files a").evaluate_all("links => links.map(a => a.href)")
    assert links, "local mode produces summary-rollup for the past days"
    enrolments = completions = 0
    for link in links:
        rows = urlopen_bytes(link).decode("utf-8").splitlines()
        header = rows[0].split(",")
        total = next(row.split(",") for row in rows[1:] if row.split(",")[header.index("content_id")] == "")
        enrolments += int(total[header.index("enrolments")])
        completions += int(total[header.index("completions")])
    assert enrolments > 0
    expected = f"{enrolments} enrolments and {completions} completions in all"
    expect(page.locator("#usage-chart svg desc")).to_contain_text(expected)
    snap(page, "08-org-admin-usage-chart")
    assert serious_violations(page) == []


def urlopen_bytes(url: str) -> bytes:
    import urllib.request

    with urllib.request.urlopen(url, timeout=30) as answer:
        return answer.read()
