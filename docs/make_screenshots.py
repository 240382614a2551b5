"""Screenshots of the labelling web app with the real offline agents, for the README.

Starts ``convenv serve-labels`` on a temporary store, labels a few turns in headless
Chromium (Debian's, driven by Playwright) and saves ``docs/label-*.png``.

Usage: python docs/make_screenshots.py
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx
from playwright.sync_api import sync_playwright

HERE = Path(__file__).parent
FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"]


def main() -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    store = Path(tempfile.mkdtemp()) / "labels.sqlite"
    secret = "screenshot-secret"
    subprocess.run(
        [sys.executable, "-m", "convenv.cli", "serve-labels", "users", "--store", str(store),
         "add", "ann", "--admin", "--secret-env", "SCREENSHOT_SECRET"],
        env={**os.environ, "SCREENSHOT_SECRET": secret}, check=True,
    )  # fmt: skip
    server = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "convenv.cli",
            "serve-labels",
            "--store",
            str(store),
            "--port",
            str(port),
            "--review-size",
            "20",
        ]
    )
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(600):
            try:
                httpx.get(url + "/login", timeout=1)
                break
            except httpx.HTTPError:
                time.sleep(0.5)
        with sync_playwright() as playwright:
            browser = playwright.chromium.launch(
                executable_path=shutil.which("chromium"), headless=True, args=FLAGS
            )
            page = browser.new_page(viewport={"width": 1100, "height": 800})
            page.goto(url + "/login")
            page.fill("#name", "ann")
            page.fill("#secret", secret)
            page.keyboard.press("Enter")
            page.wait_for_url("**/dialog")
            for key, then in (("1", "a"), ("2", "a"), ("6", None)):
                page.keyboard.press(key)
                page.wait_for_selector("#proposed")
                if then:
                    page.keyboard.press(then)
                    page.wait_for_selector("#code-0")
            page.click("summary")
            page.screenshot(path=str(HERE / "label-dialog.png"), full_page=True)
            page.goto(url + "/review")
            page.screenshot(path=str(HERE / "label-review.png"), full_page=True)
            for key in ("a", "r", "a"):
                page.keyboard.press(key)
                page.wait_for_load_state()
                page.wait_for_timeout(300)
            page.goto(url + "/progress")
            page.screenshot(path=str(HERE / "label-progress.png"), full_page=True)
            browser.close()
    finally:
        server.kill()


if __name__ == "__main__":
    main()
