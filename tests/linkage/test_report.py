"""The linkage report draws its charts offline: Vega from Splink's package, specs as safe JSON."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from falls_risk.linkage.vega import LIBRARIES, script_json, vega_libraries
from tests.browser import CHROMIUM, require_browser

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4),
    max_leaves=20,
)


@given(json_values)
def test_script_json_reads_back_and_cannot_close_a_script(value: object) -> None:
    text = script_json(value)
    assert json.loads(text) == value
    assert not {"<", ">", "&"} & set(text)


def test_the_vega_runtime_comes_from_the_installed_splink() -> None:
    libraries = vega_libraries()
    assert set(libraries) == set(LIBRARIES)
    assert all(len(source) > 10_000 for source in libraries.values())
    assert "vegaEmbed" in libraries["vega-embed"]


@pytest.mark.browser
@pytest.mark.enable_socket  # the driver talks to Chromium over a local pipe / socket
def test_linkage_report_draws_its_charts_in_chromium_offline(mini_linked: Path) -> None:
    sync_api, _ = require_browser()  # skipped without Chromium, but fails in CI
    page_path = mini_linked / "reports" / "linkage.html"
    errors: list[str] = []
    requests: list[str] = []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox", "--disable-gpu"], headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda req: requests.append(req.url))
            page.goto(page_path.as_uri(), wait_until="load")
            page.wait_for_function(
                "() => Array.from(document.querySelectorAll('[id^=chart-]'))"
                ".every(c => c.querySelector('svg, canvas'))",
                timeout=20_000,
            )
            charts = page.evaluate("() => Array.from(document.querySelectorAll('[id^=chart-]')).map(c => c.id)")
        finally:
            browser.close()
    assert errors == []
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    assert {"chart-probability", "chart-match_weights", "chart-m_u_parameters"} <= set(charts)
