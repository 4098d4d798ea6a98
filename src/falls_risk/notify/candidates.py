"""Which of a delivery's linked records notify, and whom.

The events come from the one event mapping (``events.build.source_events_sql``) run on the
delivery's linked tables, each row tagged with its record (``row_number``) so every notified event
can be traced back to the record that made it. The codes notify by the rules of the event
vocabulary (``vocabulary.NOTIFY_RULES``): a record takes the first rule that matches at each of its
moments (start; end for a discharge).

Each event then meets the latest monthly run: a person in a notified tier is notified with their
risk; a person the run did not score (new to the region, newly 65) is notified of a fall-type
event only, as "not yet scored"; everyone else is counted, never silently dropped.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import duckdb
import pandas as pd

from falls_risk.catalog import LINKED, POPULATION
from falls_risk.contract import PERSON_SOURCES, SOURCES
from falls_risk.events.build import source_events_sql
from falls_risk.events.vocabulary import NotifyRule, matches_any, notify_rule
from falls_risk.workspace import Workspace, sql_path

EVENT_COLUMNS = ["person_key", "source", "record_id", "row_number", "event_date", "rule", "at", "event", "fall",
                 "match_probability"]
_TAG = "|"  # person_key is hex: the tag cannot clash with it


def _tagged(path_sql: str) -> str:
    """The linked table with each row's person_key tagged with its row_number."""
    return (f"(SELECT * REPLACE (person_key || '{_TAG}' || CAST(row_number AS VARCHAR) AS person_key) "
            f"FROM read_parquet({path_sql}) WHERE person_key IS NOT NULL)")


def delivery_events(ws: Workspace, rules: Sequence[NotifyRule]) -> pd.DataFrame:
    """Every notifying event of the delivery's linked records (EVENT_COLUMNS), one per record and moment."""
    sources = {s for s in PERSON_SOURCES if LINKED.exists(ws, source=s)}
    con = duckdb.connect()
    frames = []
    try:
        for source in sorted(sources):
            path = LINKED.path(ws, source=source)
            id_column = SOURCES[source].id_column
            union = "\nUNION ALL\n".join(source_events_sql(source, _tagged(sql_path(path))))
            events = con.sql(f"SELECT person_key, event_time, end_time, code, match_probability FROM ({union})").df()
            if events.empty:
                continue
            ids = con.sql(
                f"SELECT row_number, CAST({id_column} AS VARCHAR) AS record_id FROM read_parquet({sql_path(path)})"
                if id_column else f"SELECT row_number, NULL AS record_id FROM read_parquet({sql_path(path)})"
            ).df()
            events[["person_key", "row_number"]] = events["person_key"].str.split(_TAG, n=1, expand=True)
            events["row_number"] = events["row_number"].astype("int64")
            events["source"] = source
            frames.append(events.merge(ids, on="row_number", how="left"))
    finally:
        con.close()
    if not frames:
        return pd.DataFrame(columns=EVENT_COLUMNS)
    events = pd.concat(frames, ignore_index=True)
    found = []
    for order, rule in enumerate(rules):
        hit = events[events["code"].map(lambda c, r=rule: matches_any(c, r.patterns))]
        when = hit["end_time"] if rule.at == "end" else hit["event_time"]
        hit = hit.assign(event_date=pd.to_datetime(when).dt.date, rule=rule.name, at=rule.at, event=rule.wording,
                         fall=rule.fall, order=order)
        found.append(hit[hit["event_date"].notna()])
    out = pd.concat(found, ignore_index=True) if found else pd.DataFrame(columns=[*EVENT_COLUMNS, "order"])
    out = out.sort_values(["source", "row_number", "at", "order"]).drop_duplicates(["source", "row_number", "at"])
    return out[EVENT_COLUMNS].sort_values(["event_date", "source", "row_number"]).reset_index(drop=True)


@dataclass(frozen=True)
class Candidates:
    """The events to notify (with risk and team) and what was counted but not notified."""

    notify: pd.DataFrame
    counts: dict[str, int] = field(default_factory=dict)


def candidates(
    events: pd.DataFrame, scores: pd.DataFrame, teams: pd.DataFrame, *, tiers: Sequence[str],
    min_match_probability: float, min_age: int = 65,
) -> Candidates:
    """``events`` (``delivery_events``) joined to the latest run's ``scores`` and each person's
    team (``teams``: person_key, local_authority, birth_month from the delivery's spine)."""
    merged = events.merge(scores, on="person_key", how="left").merge(
        teams.drop_duplicates("person_key"), on="person_key", how="left")
    merged["local_authority"] = merged["local_authority"].fillna("unknown").astype(str)
    weak = merged["match_probability"].fillna(0) < min_match_probability
    scored = merged["tier"].notna()
    in_tiers = scored & merged["tier"].isin(list(tiers))
    # Not scored but old enough to be (new to the region, newly 65, or the run predates them).
    born = pd.to_datetime(merged["birth_month"], format="%Y-%m", errors="coerce")
    age = (pd.to_datetime(merged["event_date"]) - born).dt.days / 365.25
    old_enough = age.fillna(0) >= min_age
    not_yet = ~scored & merged["fall"].astype(bool) & old_enough
    keep = ~weak & (in_tiers | not_yet)
    counts = {
        "events": len(merged),
        "weak_links": int(weak.sum()),
        "below_notified_tiers": int((~weak & scored & ~in_tiers).sum()),
        "not_scored_not_fall": int((~weak & ~scored & ~merged["fall"].astype(bool)).sum()),
        "not_scored_under_age": int((~weak & ~scored & merged["fall"].astype(bool) & ~old_enough).sum()),
        "not_yet_scored": int((~weak & not_yet).sum()),
        "scored_in_tiers": int((~weak & in_tiers).sum()),
    }
    out = merged[keep].drop(columns=["birth_month"]).copy()
    out["scored"] = out["tier"].notna()
    out["risk_percent"] = (out["probability"] * 100).round(1)
    out["tier"] = out["tier"].fillna("not yet scored").astype(str)
    for column in ("reasons", "suggested_actions"):
        out[column] = out[column].fillna("").astype(str)
    return Candidates(out.reset_index(drop=True), counts)


def person_teams(ws: Workspace) -> pd.DataFrame:
    """person_key -> local_authority and birth_month from the delivery's pseudonymised spine."""
    return POPULATION.load(ws, columns=["person_key", "local_authority", "birth_month"])


def rules_of(names: Sequence[str]) -> tuple[NotifyRule, ...]:
    wanted = set(names)
    from falls_risk.events.vocabulary import NOTIFY_RULES

    return tuple(r for r in NOTIFY_RULES if r.name in wanted) or tuple(notify_rule(n) for n in names)
