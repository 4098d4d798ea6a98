"""Reasons a team can act on: facts from the person's own records, only reasons that matter,
suggested actions from the cited guidance mapping, and numeric risk changes for everyone listed."""

from __future__ import annotations

import re
from datetime import date

import pandas as pd
import pytest

from falls_risk import guidance
from falls_risk.errors import FallsRiskError
from falls_risk.scoring.facts import Occurrences, PersonFacts, person_facts
from falls_risk.scoring.outputs import build_risk_list

AS_OF = date(2026, 3, 1)


def _features(**values) -> pd.DataFrame:
    row = {"person_key": "pk1", "ever_dementia": 1, "ever_stroke": 1, "ever_depression": 1, "ever_osteoporosis": 0,
           "frid_opioids_90d": 1, "frid_antidepressants_90d": 0, "polypharmacy_90d": 6, "lives_alone": 1,
           "telecare_active": 0, "home_care_active": 1, "home_care_hours_per_week": 7.5, "reablement_365d": 1,
           "adaptation_pending": 1}
    row.update(values)
    return pd.DataFrame([row])


def _events() -> pd.DataFrame:
    rows = [
        # One fall seen by the ambulance service and the emergency department the same day, then
        # by the GP four days later: one fall, not three.
        ("2026-01-10 09:00", "ambulance/fall_conveyed", 1.0),
        ("2026-01-10 11:00", "ed/fall", 1.0),
        ("2026-01-14 10:00", "gp/1912002", 1.0),
        ("2025-08-02 10:00", "ambulance/fall_not_conveyed", 1.0),
        ("2024-02-02 10:00", "ambulance/breathing_conveyed", 1.0),  # over a year ago: counted in "last" only
        ("2026-02-01 10:00", "rx/0407020A0", 1.0),  # opioid items in the last 90 days
        ("2026-02-20 10:00", "rx/0407020B0", 1.0),
        ("2025-10-01 10:00", "rx/0403010B0", 1.0),  # an antidepressant, but 151 days ago
        ("2026-02-11 10:00", "police/concern_for_welfare", 1.0),
        ("2026-02-25 10:00", "police/concern_for_welfare", 0.5),  # a weak link: not this person's
        ("2026-03-01 10:00", "police/concern_for_welfare", 1.0),  # on the as-of date: not yet known
    ]
    return pd.DataFrame(
        {"person_key": "pk1", "event_time": pd.to_datetime([r[0] for r in rows]), "code": [r[1] for r in rows],
         "match_probability": [r[2] for r in rows]}
    )


def test_facts_are_read_from_the_persons_own_records_before_the_as_of_date():
    facts = person_facts(_features(), _events(), as_of=AS_OF, min_match_probability=0.9)["pk1"]
    assert facts.deficits == ("dementia", "a stroke")  # depression is not an eFI deficit
    assert facts.frid_items == (("opioid painkillers", 2),)
    assert facts.falls == Occurrences(last_12_months=2, last=date(2026, 1, 14))
    assert facts.ambulance_fall_calls == Occurrences(last_12_months=2, last=date(2026, 1, 10))
    assert facts.ambulance_calls.last_12_months == 2 and facts.ambulance_calls.last == date(2026, 1, 10)
    assert facts.welfare_checks == Occurrences(last_12_months=1, last=date(2026, 2, 11))
    assert facts.lives_alone and not facts.telecare and facts.home_care_hours == 7.5 and facts.adaptation_pending
    agencies = {agency for _, agency, _ in facts.contacts}
    assert agencies == {"ambulance service", "hospital", "GP", "police"}
    assert all(day < AS_OF and (AS_OF - day).days <= 365 for day, _, _ in facts.contacts)


def test_the_guidance_mapping_is_cited_data_and_each_action_names_its_reason():
    for row in (*guidance.action_rows(), *guidance.case_finding_rows()):
        assert row.source and row.url.startswith("https://"), row
    assert any("NG249" in r.source for r in guidance.case_finding_rows())
    facts = person_facts(_features(), _events(), as_of=AS_OF, min_match_probability=0.9)["pk1"]
    actions = {s.action.split(" (")[0]: s.because for s in guidance.suggestions(facts)}
    assert "opioid painkillers (2 items)" in actions["Structured medication review of the fall-risk-increasing medicines"]
    assert actions["Offer telecare"] == "lives alone and has no telecare"
    assert actions["Chase the occupational therapy referral for the pending home adaptation"] == \
        "waiting for a home adaptation"
    assert "several falls" in actions["Offer a multifactorial falls risk assessment"]
    assert "police welfare check" in actions["Share the police welfare concern with the social work team and "
                                             "consider a care and support assessment"]
    assert "Assess bone health and fracture risk" not in actions  # no osteoporosis, no hip fracture
    text = guidance.suggested_actions(facts)
    assert "[STOPPFall]" in text and "[NICE NG249 (April 2025)]" in text

    found = guidance.case_finding(facts)
    assert found.startswith("Meets: a previous injurious fall (hospital visit for a fall on 10 Jan 2026); "
                            "several falls (2 falls in the last 12 months)")
    assert "gait or balance" in found.split("Not known from these records:")[1]
    with_telecare = PersonFacts(lives_alone=True, telecare=True)
    assert guidance.suggestions(with_telecare) == []
    assert guidance.case_finding(with_telecare).startswith("Meets none")


def test_a_guidance_row_naming_an_unknown_trigger_is_refused(monkeypatch, tmp_path):
    bad = "trigger,threshold,action,source,url\nmoon_phase,,Wait,Nobody,https://example.org\n"
    monkeypatch.setattr(guidance, "resources", type("R", (), {"files": staticmethod(lambda _: tmp_path)}))
    (tmp_path / "actions.csv").write_text(bad, encoding="utf-8")
    guidance.action_rows.cache_clear()
    try:
        with pytest.raises(FallsRiskError, match=r"actions.csv line 2: trigger 'moon_phase'"):
            guidance.action_rows()
    finally:
        guidance.action_rows.cache_clear()


def test_reasons_state_facts_and_only_those_moving_risk_by_half_a_point(synthetic_model, month_features):
    from falls_risk.explain import explain

    people = month_features.head(400)
    explanation = explain(synthetic_model, people.set_index("person_key")[synthetic_model.feature_names_])
    facts = person_facts(people, pd.DataFrame(columns=["person_key", "event_time", "code"]), as_of=AS_OF)
    everything = explanation.reason_items(5, min_points=0.0, facts=facts)
    kept = explanation.reason_items(5, min_points=0.5, facts=facts)
    assert any(abs(r.points) < 0.005 for rs in everything for r in rs)  # the filter has work to do
    assert all(abs(r.points) >= 0.005 for rs in kept for r in rs)
    assert max(len(rs) for rs in kept) == 5
    texts = [r.text for rs in kept for r in rs]
    assert not any("eFI-style" in t for t in texts)
    keys = list(explanation.contributions.index)
    deficit = [(r.text, facts[k].deficits) for k, rs in zip(keys, kept, strict=True) for r in rs
               if "frailty deficit" in r.text and facts[k].deficits]
    assert deficit and all(t.endswith(", ".join(d[:-1]) + " and " + d[-1] if len(d) > 1 else d[0]) and
                           re.fullmatch(r"\d+ frailty deficits? recorded: .+", t) for t, d in deficit)
    medicine = [t for t in texts if "fall-risk-increasing medicine" in t]
    assert medicine and all(" in the last 90 days: " in t for t in medicine)
    # Same facts, one reason: never the same words twice for one person.
    assert all(len({r.text for r in rs}) == len(rs) for rs in kept)


def test_everyone_listed_has_a_numeric_change_and_previous_risk_leavers_included():
    scores = pd.DataFrame({
        "person_key": ["a", "b", "c"], "local_authority": ["Cardiff"] * 3, "probability": [0.30, 0.20, 0.04],
        "rank": [1, 2, 3], "tier": pd.Categorical(["high", "high", "low"], categories=["high", "moderate", "low"]),
        "reasons": ["r1", "r2", "r3"],
    })
    previous = pd.DataFrame({"person_key": ["a", "c"], "probability": [0.25, 0.21]})
    facts = {"c": PersonFacts(telecare=True, reablement_12_months=1)}
    listed = build_risk_list(scores, alerts=pd.DataFrame(columns=["person_key", "alert", "event_date"]),
                             risers=None, entrants={"b"}, leavers={"c"}, previous_scores=previous, facts=facts)
    by_key = listed.set_index("person_key")
    assert by_key.loc["a", "risk_change_points"] == 5.0 and by_key.loc["a", "previous_risk_percent"] == 25.0
    assert pd.isna(by_key.loc["b", "risk_change_points"])  # not scored last month
    assert by_key.loc["c", "risk_change_points"] == -17.0 and by_key.loc["c", "risk_change"] == \
        "-17.0 points since last run"
    assert by_key.loc["c", "already_known_to"] == "Social care: telecare, reablement (1 episode in the last 12 months)"
    assert listed["risk_change_points"].dtype.kind == "f"


def test_the_worklist_card_shows_the_last_recorded_action_from_the_ledger_hook():
    from falls_risk.worklist import build_cards, render_worklists

    listed = pd.DataFrame({"person_key": ["a", "b"], "local_authority": ["Cardiff", "Cardiff"], "forename": ["Ann", "Bob"],
                           "surname": ["Jones", "Evans"], "risk_percent": [30.0, 20.0], "tier": ["high", "high"],
                           "listed_because": ["flagged tier"] * 2, "new_to_flagged_tier": [False, False]})
    contacts = pd.DataFrame({"person_key": ["a"], "last_action_date": [date(2026, 2, 3)],
                             "last_action": ["home visit"]})
    cards = build_cards(listed, reason_items={}, waterfalls={}, base_probability=0.05, facts={},
                        alerts=pd.DataFrame(columns=["person_key", "alert", "event_date"]), as_of=AS_OF,
                        contacts=contacts)
    assert [c.last_contact for c in cards] == ["home visit on 3 Feb 2026", None]
    [page] = render_worklists(listed, cards, month="2026-03", as_of=AS_OF, horizon="12 months", min_points=0.5,
                              ledger_available=True).values()
    assert "Last recorded contact: home visit on 3 Feb 2026" in page
    assert "Last recorded contact: no action recorded" in page and "1 of the people here" in page


def test_the_docs_define_points_and_every_risk_list_column():
    from pathlib import Path

    from falls_risk.features import wording

    doc = (Path(__file__).resolve().parents[2] / "docs" / "practitioners.md").read_text(encoding="utf-8")
    assert wording.points_definition("12 months") in doc
    assert all(f"| `{name}` |" in doc for name, _ in wording.RISK_LIST_COLUMNS)
    assert all(f"| `{row.name}` |" in doc for row in guidance.action_rows())
