"""linkage.html for the linkage analyst: the match-probability histogram reads (one row per
source, records on a log scale, whole-number ticks that do not overlap), and the parameter
table's note speaks only of rows that exist."""

from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from falls_risk.catalog import LINKAGE_REPORT
from falls_risk.linkage.report import probability_chart

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def test_the_histogram_has_a_row_per_source_on_a_log_scale():
    bins = pd.DataFrame({"source": ["police", "police", "ambulance", "ambulance", "housing"],
                         "bin": [0.0, 0.95, 0.5, 0.95, 0.95], "rows": [7, 900, 3, 400, 120]})
    spec = probability_chart(bins)
    assert spec["facet"]["row"]["field"] == "source"
    assert spec["spec"]["encoding"]["y"]["scale"]["type"] == "symlog"  # log-like, and bars start at 0
    assert spec["spec"]["encoding"]["x"]["axis"]["values"] == [0, 0.2, 0.4, 0.6, 0.8, 1.0]
    rows = {(v["source"], v["bin_start"]): v["rows"] for v in spec["data"]["values"]}
    assert ("ambulance", 0.5) not in rows  # 3 records: not drawn
    assert rows[("police", 0.0)] == 7 and rows[("housing", 0.95)] == 120


def test_the_parameter_note_mentions_no_orange_rows(linked_workspace):
    html = LINKAGE_REPORT.load(linked_workspace)
    assert "rows in orange" not in html.lower()  # (the embedded Vega library names the colour itself)
    if "(Splink's default)" not in html:
        assert "was not observed in training" not in html


@pytest.mark.browser
@pytest.mark.enable_socket
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (`make browser` installs it from Debian)")
def test_the_linkage_page_draws_the_histogram_offline(linked_workspace, tmp_path: Path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package drives Chromium")
    errors, requests = [], []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda req: requests.append(req.url))
            page.goto(LINKAGE_REPORT.path(linked_workspace).as_uri(), wait_until="load")
            page.wait_for_function("() => document.querySelector('#chart-probability svg, #chart-probability canvas')",
                                   timeout=20_000)
            chart = page.locator("#chart-probability")
            shot = tmp_path / "linkage_histogram.png"
            chart.screenshot(path=str(shot))
            text = chart.inner_text()
        finally:
            browser.close()
    shutil.copyfile(shot, "/tmp/linkage_histogram.png")
    assert errors == []
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    assert "Chart error" not in text
    # Bars drawn (a log scale from 0 draws none): the chart's bar colour covers a real area.
    from PIL import Image

    pixels = Image.open(shot).convert("RGB").getdata()
    bar_pixels = sum(1 for r, g, b in pixels if abs(r - 0x3B) < 12 and abs(g - 0x6E) < 12 and abs(b - 0xA8) < 12)
    assert bar_pixels > 2_000
    assert shot.stat().st_size > 5_000
