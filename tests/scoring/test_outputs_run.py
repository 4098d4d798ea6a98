"""What a month's run gives practitioners, end to end on the shared small world: the risk list
with facts, actions and numeric changes, its header notes, and a worklist page per team (checked
in headless Chromium: no console errors, nothing fetched, sorting and filtering work)."""

from __future__ import annotations

import re
import shutil
import stat
from datetime import date
from pathlib import Path

import pandas as pd
import pytest

from falls_risk.catalog import EXPLANATIONS, RISK_LIST, RISK_LIST_NOTES, WORKLIST
from falls_risk.modelling.registered import RegisteredModel
from falls_risk.scoring import ScoringRequest, TierPolicy, run_scoring
from falls_risk.worklist import page_name

NOV, DEC = date(2025, 11, 1), date(2025, 12, 1)
CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
FLAGS = [
    "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--disable-component-update",
    "--disable-sync", "--no-first-run", "--disable-default-apps", "--disable-extensions",
]


@pytest.fixture(scope="module")
def month(world_dir, synthetic_model, tmp_path_factory) -> Path:
    """December's run folder, after November's (so there are changes to show)."""
    loaded = RegisteredModel(model=synthetic_model, name="falls-risk", version="7", run_id="run-abc",
                             uri="models:/falls-risk@champion")
    root = tmp_path_factory.mktemp("outputs") / "runs"
    extract = world_dir / "extract"

    def score(as_of, out, **kw):
        request = ScoringRequest(extract, as_of, out, TierPolicy(capacity=40), **kw)
        return run_scoring(request, model=loaded, progress=False)

    score(NOV, root / "2025-11", keep_work=True)
    model = root.parent / "linkage_model.json"
    shutil.copy(root / ".work" / "2025-11" / "linkage" / "model.json", model)
    score(DEC, root / "2025-12", linkage_model=model)
    return root / "2025-12"


def test_the_risk_list_states_facts_actions_and_numeric_changes(month):
    risk_list = RISK_LIST.load(month)
    for column in ("risk_change_points", "previous_risk_percent", "suggested_actions", "case_finding",
                   "already_known_to"):
        assert column in risk_list.columns
    changes = pd.to_numeric(risk_list["risk_change_points"].replace("", None))
    assert changes.notna().mean() > 0.9  # everyone scored last month, leavers included
    leavers = risk_list[risk_list["listed_because"].str.contains("left the flagged tier")]
    # A leaver's change is a number (sortable), the current risk minus last month's to rounding; it need
    # not be negative: someone can leave the tier because others rose past them.
    assert len(leavers)
    leaver_change = pd.to_numeric(leavers["risk_change_points"])
    recomputed = pd.to_numeric(leavers["risk_percent"]) - pd.to_numeric(leavers["previous_risk_percent"])
    assert leaver_change.notna().all() and ((leaver_change - recomputed).abs() <= 0.11).all()
    assert (leaver_change < 0).mean() > 0.5  # most leave because their own risk fell
    points = [float(p) for text in risk_list["reasons"] for p in re.findall(r"by ([0-9.]+) points", text)]
    assert points and min(points) >= 0.5
    assert risk_list["reasons"].map(lambda t: t.count("(raises risk by")).max() <= 5
    assert not risk_list["reasons"].str.contains("eFI-style").any()
    assert risk_list["reasons"].str.contains(r"the last on \d+ \w{3} 20\d\d").any()  # when the last fall was
    assert risk_list["case_finding"].str.len().gt(0).all()
    assert risk_list["suggested_actions"].str.contains(r"\(because: .+\) \[", regex=True).any()
    assert risk_list["already_known_to"].str.startswith("Social care:").any()

    explanations = EXPLANATIONS.load(month)
    assert {"suggested_actions", "case_finding"} <= set(explanations.columns)
    assert explanations["case_finding"].str.len().gt(0).all()

    notes = RISK_LIST_NOTES.load(month)
    assert "A point is one percentage point of the predicted risk of an emergency admission for a fall within 12 months" in notes
    assert "- risk_change_points:" in notes and "NICE NG249" in notes


def test_each_team_gets_a_private_worklist_page(month):
    risk_list = RISK_LIST.load(month)
    folder = WORKLIST.path(month, team="x").parent
    assert stat.S_IMODE(folder.stat().st_mode) == 0o700
    teams = risk_list["local_authority"].unique()
    assert {p.name for p in folder.iterdir()} == {WORKLIST.path(month, team=page_name(t)).name for t in teams}
    for team in teams:
        path = WORKLIST.path(month, team=page_name(team))
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
        page = path.read_text(encoding="utf-8")
        mine = risk_list[risk_list["local_authority"] == team]
        assert page.count('<article class="card"') == len(mine)
        assert all(surname in page for surname in mine["surname"])
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page)  # nothing to fetch
        assert "percentage point" in page and page.count("<svg") == 2 * len(mine)


@pytest.mark.browser
@pytest.mark.enable_socket  # the driver talks to Chromium over a local pipe / socket
@pytest.mark.skipif(CHROMIUM is None, reason="chromium is not installed (`make browser` installs it from Debian)")
def test_the_worklist_page_works_offline_in_chromium(month, tmp_path):
    sync_api = pytest.importorskip("playwright.sync_api", reason="the playwright package drives Chromium")
    risk_list = RISK_LIST.load(month)
    team = risk_list["local_authority"].value_counts().index[0]
    page_path = WORKLIST.path(month, team=page_name(team))
    console, errors, requests = [], [], []
    with sync_api.sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page(viewport={"width": 1280, "height": 900})
            page.on("console", lambda msg: console.append((msg.type, msg.text)))
            page.on("pageerror", lambda exc: errors.append(str(exc)))
            page.on("request", lambda req: requests.append(req.url))
            page.goto(page_path.as_uri(), wait_until="load")
            n_cards = page.locator("article.card").count()
            by_risk = page.eval_on_selector_all("article.card", "cs => cs.map(c => parseFloat(c.dataset.risk))")
            page.select_option("#sort", "change")
            by_change = page.eval_on_selector_all(
                "article.card", "cs => cs.map(c => c.dataset.change === '' ? null : parseFloat(c.dataset.change))")
            page.check("#f-alert")
            alerted = page.eval_on_selector_all("article.card:not([hidden])", "cs => cs.map(c => c.dataset.alert)")
            shown = page.text_content("#shown")
            page.uncheck("#f-alert")
            page.fill("#search", risk_list.loc[risk_list["local_authority"] == team, "surname"].iloc[0])
            found = page.locator("article.card:not([hidden])").count()
            page.fill("#search", "")
            overflow = page.evaluate("() => document.documentElement.scrollWidth - window.innerWidth")
            shot = tmp_path / "worklist_screenshot.png"
            page.screenshot(path=str(shot), full_page=False)
        finally:
            browser.close()
    shutil.copyfile(shot, "/tmp/worklist_screenshot.png")

    assert [m for m in console if m[0] in ("error", "warning")] == []
    assert errors == []
    assert all(url.startswith(("file:", "data:")) for url in requests), requests
    assert n_cards == int((risk_list["local_authority"] == team).sum())
    assert by_risk == sorted(by_risk, reverse=True)
    numbers = [c for c in by_change if c is not None]
    assert numbers == sorted(numbers, reverse=True)
    assert set(alerted) <= {"1"} and shown.endswith(f"of {n_cards} people")
    assert 1 <= found < n_cards or n_cards == 1
    assert overflow <= 0
    assert shot.stat().st_size > 50_000
