"""The report in a real browser: headless Chromium (Debian's) opens it offline, with no console
errors, every figure loaded, nothing fetched from the network, and no sideways scrolling.

A screenshot is saved to the test's tmp dir and to /tmp/report_screenshot.png for a person to look at.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.browser import CHROMIUM, require_browser

FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-default-apps", "--disable-extensions",
]
EXPECTED_FIGURES = {"importance", "beeswarm", "agencies", "roc", "calibration", "decision-curve"}


@pytest.mark.browser
@pytest.mark.enable_socket  # the driver talks to Chromium over a local pipe / socket
def test_report_renders_in_chromium_without_errors(report_html, report_summary, tmp_path: Path):
    sync_api, _ = require_browser()  # skipped without Chromium, but fails in CI
    page_path = tmp_path / "model_report.html"
    page_path.write_text(report_html, encoding="utf-8")
    console: list[tuple[str, str]] = []
    errors: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda msg: console.append((msg.type, msg.text)))
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda req: requests.append(req.url))
            page.goto(page_path.as_uri(), wait_until="load")
            figures = page.evaluate(
                """() => Array.from(document.querySelectorAll('figure[data-figure]')).map(f => {
                       const img = f.querySelector('img');
                       return {name: f.dataset.figure, loaded: !!img && img.complete && img.naturalWidth > 0,
                               width: img ? img.getBoundingClientRect().width : 0};
                   })"""
            )
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            headings = page.evaluate("() => Array.from(document.querySelectorAll('h2')).map(h => h.textContent)")
            shot = tmp_path / "report_screenshot.png"
            page.screenshot(path=str(shot), full_page=True)
        finally:
            browser.close()
    shutil.copyfile(shot, "/tmp/report_screenshot.png")

    assert [m for m in console if m[0] in ("error", "warning")] == []
    assert errors == []
    # Offline by construction: the page itself, and inline data only.
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    names = {f["name"] for f in figures}
    assert EXPECTED_FIGURES <= names
    assert sum(name.startswith("dependence-") for name in names) == len(report_summary["dependence"])
    assert all(f["loaded"] and f["width"] > 100 for f in figures), figures
    assert overflow <= 0, f"the page scrolls sideways by {overflow}px at 1280px wide"
    assert headings[:3] == ["Summary", "What drives risk", "What each agency adds"]
    assert shot.stat().st_size > 50_000
