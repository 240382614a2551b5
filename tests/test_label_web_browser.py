"""The labelling web app in a real browser: Debian's Chromium, driven by Playwright
(the system browser; nothing is downloaded at run time)."""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

pytest.importorskip("fastapi", reason="the [web] extra is not installed")
sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")

from convenv.training.label_store import LabelStore  # noqa: E402
from tests.web_stubs import PEOPLE, secret_of, start_server  # noqa: E402

# Debian's package first: the browser a user of this project has, never a downloaded one.
CHROMIUM = next(
    (p for p in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser"))
     if p and Path(p).exists()),
    None,
)  # fmt: skip
pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        CHROMIUM is None, reason="no chromium on PATH (`make browser` installs Debian's)"
    ),
]
# Flags for a sandboxed machine with no network: no first-run, sync or update traffic.
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync",
]  # fmt: skip


@pytest.fixture(scope="module")
def browser():
    with sync_api.sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, headless=True, args=FLAGS)
        yield browser
        browser.close()


@pytest.fixture
def live(tmp_path):
    store = str(tmp_path / "labels.sqlite")
    process, url = start_server(store, size=10, people=(*PEOPLE, "eve"))
    yield store, url
    process.kill()
    process.wait()


def shoot(page, name: str) -> None:
    """Screenshots for the README and the closing note, when asked for."""
    folder = os.environ.get("CONVENV_SCREENSHOTS")
    if folder:
        Path(folder).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(folder) / f"{name}.png"), full_page=True)


def log_in(browser, url: str, name: str):
    page = browser.new_page(accept_downloads=True)
    page.goto(url + "/login")
    shoot(page, "login")
    page.fill("#name", name)
    page.fill("#secret", secret_of(name))
    page.keyboard.press("Enter")
    page.wait_for_url("**/dialog")
    return page


def test_label_a_dialog_with_the_keyboard(browser, live):
    store, url = live
    page = log_in(browser, url, "ann")
    page.keyboard.press("1")  # ask about pets.
    page.wait_for_selector("#proposed")
    page.keyboard.press("a")  # accept
    page.wait_for_selector("#code-0")
    assert page.locator(".turn").count() == 2
    page.keyboard.press("4")
    page.wait_for_selector("#proposed")
    page.keyboard.press("e")  # edit, then Ctrl+Enter saves
    page.keyboard.type("what do you do for a living?")
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#code-0")
    assert page.locator(".turn").count() == 4
    assert "what do you do for a living?" in page.inner_text("#dialog")
    shoot(page, "dialog")
    page.keyboard.press("1")  # "1" then "0": code 10, not code 1 then code 0
    page.keyboard.press("0")
    page.wait_for_selector("#proposed")
    page.keyboard.press("a")
    page.wait_for_selector("#code-0")
    decisions = LabelStore(store).decisions()
    assert [(d.verdict, d.labeller) for d in decisions] == [
        ("accept", "ann"), ("correct", "ann"), ("accept", "ann")
    ]  # fmt: skip
    assert [d.code for d in decisions] == [
        "ask about pets.", "talk about travel.", "talk about politics."
    ]  # fmt: skip


def test_review_with_shortcuts(browser, live):
    store, url = live
    page = log_in(browser, url, "bob")
    page.goto(url + "/review")
    first = page.inner_text("#proposed")
    shoot(page, "review")
    with page.expect_navigation():
        page.keyboard.press("r")
    second = page.inner_text("#proposed")
    assert second != first
    with page.expect_navigation():
        page.keyboard.press("s")  # skip: to the back of the queue, nothing stored
    assert page.inner_text("#proposed") != second
    with page.expect_navigation():
        page.keyboard.press("a")
    decided = [(d.proposed, d.verdict) for d in LabelStore(store).decisions()]
    assert decided[0] == (first, "reject") and len(decided) == 2
    assert second not in [p for p, _ in decided]


def test_a_script_correction_renders_as_text(browser, live):
    store, url = live
    page = log_in(browser, url, "eve")
    page.keyboard.press("0")
    page.wait_for_selector("#proposed")
    page.keyboard.press("e")
    evil = "<script>window.pwned = 1</script><img src=x onerror='window.pwned=2'> job?"
    page.keyboard.type(evil)
    page.keyboard.press("Control+Enter")
    page.wait_for_selector("#code-0")
    assert evil in page.inner_text("#dialog")  # shown as the text typed
    assert page.evaluate("window.pwned") is None  # and never run
    assert LabelStore(store).decisions()[0].final == evil


def test_admin_adds_a_labeller_who_labels_and_the_admin_exports(browser, live, tmp_path):
    store, url = live
    admin = log_in(browser, url, "admin")  # each log_in is a browser context of its own
    admin.click("#admin")
    admin.fill("#new-name", "zoe")
    admin.fill("#new-secret", secret_of("zoe"))
    with admin.expect_navigation():
        admin.click("#add")
    assert "Added labeller zoe" in admin.inner_text("#message")
    assert "zoe" in admin.inner_text("#accounts")
    zoe = log_in(browser, url, "zoe")
    assert zoe.locator("#export").count() == 0 and zoe.locator("#admin").count() == 0
    for key in ("1", "a", "2", "r"):
        with zoe.expect_navigation():  # each key posts a form; wait for its answer
            zoe.keyboard.press(key)
    assert zoe.request.get(url + "/export").status == 403  # a labeller does not export
    admin.goto(url + "/progress")
    shoot(admin, "progress")
    assert admin.inner_text("#total") == "2" and "zoe" in admin.inner_text("#per-person")
    with admin.expect_download() as download:
        admin.click("#export")
    target = tmp_path / "export.jsonl"
    download.value.save_as(target)
    from datasets import load_dataset

    rows = load_dataset("json", data_files=str(target), split="train")
    assert len(rows) == 2 and set(rows["labeller"]) == {"zoe"}
    assert {d.labeller for d in LabelStore(store).decisions()} == {"zoe"}
