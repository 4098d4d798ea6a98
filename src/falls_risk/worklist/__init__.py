"""The practitioners' worklist: one self-contained HTML page per team (local authority).

``RUN/worklist/<local-authority>.html`` names people, so it is written mode 0600 in a 0700
folder. It works offline and from a file: inline CSS, inline SVG charts, a few lines of inline
script to sort and filter the cards, and a content-security policy that forbids the page from
loading anything. One card per listed person: their risk and its change since the last run, the
contribution chart on the probability scale (waterfall), the last 12 months of contacts by agency
(timeline), alerts, reasons, the case-finding criteria they meet and the suggested actions, each
naming the fact that prompted it.

The last recorded contact with the person comes from the actions ledger through the optional hook
:func:`last_contacts` (``falls_risk.actions.last_contacts``); where that package is absent the
cards say that no actions ledger is available, and a person without a recorded action reads "no
action recorded": never an invented value.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import Any

import pandas as pd

from falls_risk import guidance
from falls_risk.features import wording
from falls_risk.templating import render
from falls_risk.worklist.charts import timeline, waterfall

TEMPLATE = "worklist.html.j2"
UNKNOWN_TEAM = "local authority not recorded"


def page_name(local_authority: str) -> str:
    """The page's file stem for a team: "Vale of Glamorgan" -> "vale-of-glamorgan"."""
    slug = re.sub(r"[^a-z0-9]+", "-", str(local_authority).lower()).strip("-")
    return slug or "unknown"


def last_contacts(runs_dir: Path | None) -> pd.DataFrame | None:
    """Optional hook: the last recorded action per ``person_key`` from the actions ledger
    (``falls_risk.actions.last_contacts``, another part of the project); None while it does not
    exist or no runs folder is given."""
    if runs_dir is None:
        return None
    try:
        from falls_risk.actions import last_contacts as from_ledger
    except ImportError:
        return None
    frame = from_ledger(runs_dir)
    return None if frame is None else pd.DataFrame(frame)


def _last_contact_text(row: Mapping[str, Any] | None) -> str | None:
    if row is None:
        return None
    when = next((row[c] for c in ("last_action_date", "action_date", "date") if c in row and pd.notna(row[c])), None)
    what = next((row[c] for c in ("last_action", "action") if c in row and pd.notna(row[c])), None)
    if when is None and what is None:
        return None
    return " on ".join(str(x) for x in (what or "action", wording.day_text(when) if when is not None else None) if x)


@dataclass(frozen=True)
class Card:
    key: str
    name: str
    nhs_number: str
    date_of_birth: str
    address: str
    risk_percent: float
    previous_risk_percent: float | None
    change_points: float | None
    tier: str
    listed_because: str
    new_to_flagged_tier: bool
    alerts: list[str]
    reasons: list[dict[str, Any]]
    actions: list[guidance.Suggestion]
    case_finding: str
    already_known_to: str
    waterfall_svg: str
    timeline_svg: str
    contacts_12_months: int
    last_contact: str | None


def _text(value: Any) -> str:
    return "" if value is None or (not isinstance(value, str) and pd.isna(value)) else str(value)


def _number(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def build_cards(
    listed: pd.DataFrame,
    *,
    reason_items: Mapping[str, Sequence[Any]],
    waterfalls: Mapping[str, Sequence[tuple[str, float]]],
    base_probability: float,
    facts: Mapping[str, Any],
    alerts: pd.DataFrame,
    as_of: date,
    contacts: pd.DataFrame | None = None,
) -> list[Card]:
    """One card per row of ``listed`` (the risk list with ``person_key`` and the identities);
    ``facts``: person_key -> ``scoring.facts.PersonFacts``."""
    from falls_risk.scoring.facts import TIMELINE_AGENCIES, PersonFacts  # scoring imports this package

    alert_text: dict[str, list[str]] = {}
    for key, alert, day in zip(alerts["person_key"], alerts["alert"], alerts["event_date"], strict=True):
        alert_text.setdefault(str(key), []).append(f"{alert} on {wording.day_text(day)}")
    last = {} if contacts is None or contacts.empty else {
        str(r["person_key"]): r for r in contacts.to_dict("records")}
    cards = []
    for row in listed.to_dict("records"):
        key = str(row["person_key"])
        person = facts.get(key, PersonFacts())
        reasons = [{"agency": wording.agency_label(r.agency), "text": r.text,
                    "effect": wording.risk_effect(raises=r.points > 0, points=r.points), "raises": r.points > 0}
                   for r in reason_items.get(key, [])]
        cards.append(Card(
            key=key[:12],
            name=" ".join(x for x in (_text(row.get("forename")), _text(row.get("surname"))) if x) or "name not recorded",
            nhs_number=_text(row.get("nhs_number")),
            date_of_birth=_text(row.get("date_of_birth")),
            address=", ".join(x for x in (_text(row.get("address_line")), _text(row.get("postcode"))) if x),
            risk_percent=float(row["risk_percent"]),
            previous_risk_percent=_number(row.get("previous_risk_percent")),
            change_points=_number(row.get("risk_change_points")),
            tier=_text(row.get("tier")),
            listed_because=_text(row.get("listed_because")),
            new_to_flagged_tier=bool(row.get("new_to_flagged_tier")),
            alerts=alert_text.get(key, []),
            reasons=reasons,
            actions=guidance.suggestions(person),
            case_finding=guidance.case_finding(person),
            already_known_to=wording.already_known_to(person),
            waterfall_svg=waterfall(waterfalls.get(key, []), base_probability) if key in waterfalls else "",
            timeline_svg=timeline(person.contacts, as_of, TIMELINE_AGENCIES),
            contacts_12_months=len(person.contacts),
            last_contact=_last_contact_text(last.get(key)),
        ))
    return cards


def render_worklists(
    cards_listed: pd.DataFrame,
    cards: Sequence[Card],
    *,
    month: str,
    as_of: date,
    horizon: str,
    min_points: float,
    ledger_available: bool,
) -> dict[str, str]:
    """Team (local authority) -> its page's HTML; ``cards`` are in the order of ``cards_listed``."""
    teams = cards_listed["local_authority"].astype("string").fillna(UNKNOWN_TEAM).tolist()
    pages: dict[str, list[Card]] = {}
    for team, card in zip(teams, cards, strict=True):
        pages.setdefault(str(team), []).append(card)
    context = {
        "month": month, "as_of": wording.day_text(as_of), "horizon": horizon,
        "points_definition": wording.points_definition(horizon),
        "deficits_definition": wording.DEFICITS_DEFINITION, "min_points": f"{min_points:g}",
        "ledger_available": ledger_available,
        "with_actions": sum(1 for c in cards if c.last_contact),
        "sources": [{"name": r.source, "url": r.url} for r in
                    {r.source: r for r in (*guidance.case_finding_rows(), *guidance.action_rows())}.values()],
    }
    return {team: render(TEMPLATE, {**context, "team": team, "cards": team_cards}) for team, team_cards in pages.items()}
