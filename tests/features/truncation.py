"""The truncation oracle: what an extract taken at a date would have held.

Written from the agencies' side, independently of ``contract.Source.known_from_column`` and of
the SQL: PEDW receives an inpatient spell when the patient is discharged; every other record is
sent once the thing it records has happened; a social-care episode's end and an adaptation's
completion are filled in only once they have happened; each agency delivers ``lag`` days late
(``FeatureConfig.arrival_lag_days``). A record (or a later-filled date) dated ``day`` is in the
extract cut at ``at`` iff ``(at - day) > lag`` days, the strictly-before rule.

The truncation test: features at ``at`` computed from the full history must equal those computed
from the sources cut at ``at``, for every row (``truncation_differences`` finds the rows that
differ). Used by ``tests/features/test_truncation.py`` and ``bench/bench_truncation.py``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date

import numpy as np
import pandas as pd

from falls_risk.config import FeatureConfig
from falls_risk.events.build import events_from_frames
from falls_risk.features.compute import compute_from_frames
from falls_risk.features.registry import feature_names

# The date that puts a row into its agency's extract.
ROW_ARRIVES_WITH = {
    "inpatient_spells": "discharge_date",
    "ed_attendances": "arrival_time",
    "gp_events": "event_date",
    "prescriptions": "issue_date",
    "social_care": "start_date",
    "police_incidents": "incident_date",
    "ambulance_calls": "call_time",
    "housing_adaptations": "application_date",
}
# Dates filled in on a row already sent, once they have happened (blank until then).
FILLED_IN_LATER = {"social_care": ("end_date",), "housing_adaptations": ("completed_date",)}


def _known_by(values: pd.Series, at: date, lag: int) -> np.ndarray:
    days = (pd.Timestamp(at) - pd.to_datetime(values).dt.floor("D")).dt.days
    return (days > lag).fillna(False).to_numpy(dtype=bool)


def truncate_sources(
    sources: Mapping[str, pd.DataFrame], at: date, config: FeatureConfig
) -> dict[str, pd.DataFrame]:
    """Each linked source as its agency's extract at ``at`` would have held it."""
    out: dict[str, pd.DataFrame] = {}
    for source, frame in sources.items():
        lag = config.arrival_lag_days.get(source, 0)
        cut = frame[_known_by(frame[ROW_ARRIVES_WITH[source]], at, lag)].copy()
        for column in FILLED_IN_LATER.get(source, ()):
            cut.loc[~_known_by(cut[column], at, lag), column] = pd.NaT
        out[source] = cut.reset_index(drop=True)
    return out


def truncate_population(population: pd.DataFrame, at: date) -> pd.DataFrame:
    """The spine as registered at ``at``: people registered by then; later deaths and moves blank."""
    day = pd.Timestamp(at)
    spine = population[pd.to_datetime(population["registration_date"]) <= day].copy()
    for column in ("date_of_death", "deregistration_date"):
        spine.loc[pd.to_datetime(spine[column]) > day, column] = pd.NaT
    return spine.reset_index(drop=True)


def features_at(
    sources: Mapping[str, pd.DataFrame], population: pd.DataFrame, dates: list[date], config: FeatureConfig
) -> pd.DataFrame:
    events = events_from_frames(sources, config)
    return compute_from_frames(events, population, dates, config=config)


def truncation_differences(
    sources: Mapping[str, pd.DataFrame],
    population: pd.DataFrame,
    dates: list[date],
    config: FeatureConfig | None = None,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Features from the full history at every date, and one row per (person, index date, feature)
    whose value differs from the one computed from the sources cut at that date (a row missing on
    either side counts as differing in every feature)."""
    config = config or FeatureConfig()
    names = feature_names()
    full = features_at(sources, population, dates, config)
    cut = pd.concat(
        [
            features_at(truncate_sources(sources, day, config), truncate_population(population, day), [day], config)
            for day in dates
        ],
        ignore_index=True,
    )
    keys = ["person_key", "index_date"]
    both = full[[*keys, *names]].copy().merge(cut[[*keys, *names]].copy(), on=keys, how="outer", suffixes=("", "_cut"),
                                       indicator=True)
    rows = []
    for name in names:
        a, b = both[name], both[f"{name}_cut"]
        differs = ~((a == b) | (a.isna() & b.isna())) | (both["_merge"] != "both")
        if differs.any():
            part = both.loc[differs, keys].copy()
            part["feature"], part["full"], part["cut"] = name, a[differs], b[differs]
            rows.append(part)
    columns = [*keys, "feature", "full", "cut"]
    diffs = pd.concat(rows, ignore_index=True) if rows else pd.DataFrame(columns=columns)
    return full, diffs


def load_linked(workspace) -> tuple[dict[str, pd.DataFrame], pd.DataFrame]:
    """Every linked source present in a workspace, and the spine."""
    from falls_risk import catalog
    from falls_risk.workspace import Workspace

    ws = workspace if isinstance(workspace, Workspace) else Workspace(workspace)
    sources = {
        source: catalog.LINKED.load(ws, source=source)
        for source in ROW_ARRIVES_WITH
        if catalog.LINKED.exists(ws, source=source)
    }
    return sources, catalog.POPULATION.load(ws)
