"""The registry computed with plain pandas group-bys (no SQL), one index date at a time.

Used by ``bench/bench_features.py`` as the baseline the DuckDB SQL is compared with, and by
the tests as a second independent implementation. Same semantics as ``features.sql``.
"""

from __future__ import annotations

from datetime import date

import numpy as np
import pandas as pd
import pyarrow as pa

from falls_risk.config import FeatureConfig
from falls_risk.features.registry import FEATURES
from falls_risk.features.spec import FeatureSpec

DEFAULT_CONFIG = FeatureConfig()


def _as_day(values: pd.Series) -> pd.Series:
    return pd.to_datetime(values).dt.floor("D")


def events_frame(table: pa.Table) -> pd.DataFrame:
    """Events as pandas with categorical keys and codes (keeps 50M+ rows in memory)."""
    table = table.select(
        ["person_key", "event_time", "source", "code", "value", "end_time", "match_probability", "known_time"]
    )
    columns = {}
    for name in table.column_names:
        column = table.column(name)
        if name in ("person_key", "source", "code"):
            columns[name] = column.dictionary_encode().to_pandas()
        else:
            columns[name] = column.to_pandas()
    return pd.DataFrame(columns)


def _code_mask(codes: pd.Series, wanted: tuple[str, ...]) -> np.ndarray:
    """Match on the categories (few), then broadcast to the rows (many)."""
    categories = pd.Series(codes.cat.categories.astype(str))
    exact = [c for c in wanted if not c.endswith("*")]
    hit = categories.isin(exact).to_numpy().copy()
    for prefix in (c[:-1] for c in wanted if c.endswith("*")):
        hit |= categories.str.startswith(prefix).to_numpy()
    index = codes.cat.codes.to_numpy()
    return np.where(index >= 0, hit[np.clip(index, 0, None)], False)


def cohort_frame(population: pd.DataFrame, on: date, config: FeatureConfig) -> pd.DataFrame:
    day = pd.Timestamp(on)
    pop = population
    alive = pop["date_of_death"].isna() | (_as_day(pop["date_of_death"]) > day)
    registered = (_as_day(pop["registration_date"]) < day) & (
        pop["deregistration_date"].isna() | (_as_day(pop["deregistration_date"]) > day)
    )
    living = pop[(alive & registered).to_numpy()]
    birth = living["birth_month"].astype(str)
    valid = living["birth_month"].notna()
    months = (on.year * 12 + on.month) - (
        pd.to_numeric(birth.str[:4], errors="coerce") * 12 + pd.to_numeric(birth.str[5:7], errors="coerce")
    )
    age = np.floor(months / 12.0)
    cohort = living[valid & (age >= config.min_age)].copy()
    cohort["age_years"] = age[cohort.index]
    sizes = living.dropna(subset=["household_key"]).groupby("household_key", observed=True).size()
    cohort["household_size"] = cohort["household_key"].map(sizes)
    return cohort


def _demographic(spec: FeatureSpec, cohort: pd.DataFrame, config: FeatureConfig) -> pd.Series:
    agg = spec.aggregation
    if agg == "age_years":
        return cohort["age_years"].astype(float)
    if agg in ("sex_code", "local_authority_code"):
        column = "sex" if agg == "sex_code" else "local_authority"
        lookup = {c.lower(): float(i) for i, c in enumerate(spec.categories)}
        return cohort[column].astype("string").str.strip().str.lower().map(lookup).astype(float)
    if agg == "wimd_quintile":
        rank = pd.to_numeric(cohort["wimd_rank"], errors="coerce").astype(float)
        quintile = np.minimum(5, 1 + np.floor((rank - 1) * 5.0 / config.wimd_lsoa_count))
        return quintile.where(rank >= 1)
    if agg == "lives_alone":
        size = cohort["household_size"].astype(float)
        return (size == 1).astype(float).where(cohort["household_key"].notna())
    raise ValueError(agg)


def pandas_features(
    events: pd.DataFrame,
    population: pd.DataFrame,
    on: date,
    config: FeatureConfig = DEFAULT_CONFIG,
    *,
    label_known_until: date | None = None,
    specs: tuple[FeatureSpec, ...] = FEATURES,
) -> pd.DataFrame:
    """One row per cohort member at ``on``: person_key, index_date, features, label, died_in_window."""
    day = pd.Timestamp(on)
    cohort = cohort_frame(population, on, config)
    keys = pd.Index(cohort["person_key"].astype(str))
    person_cat = events["person_key"]
    if not isinstance(person_cat.dtype, pd.CategoricalDtype):
        person_cat = person_cat.astype("category")
    # Position of each event's person in the cohort (-1: not in the cohort), via the categories.
    position_of_category = keys.get_indexer(person_cat.cat.categories.astype(str))
    codes = person_cat.cat.codes.to_numpy()
    position = np.where(codes >= 0, position_of_category[np.clip(codes, 0, None)], -1)
    in_cohort = position >= 0
    ev = events[in_cohort]
    person = position[in_cohort]
    days_before = (day - _as_day(ev["event_time"])).dt.days.to_numpy()
    end_days = (day - _as_day(ev["end_time"])).dt.days.to_numpy(dtype="float64", na_value=np.nan)
    lag = ev["source"].astype(str).map(config.arrival_lag_days).fillna(0).to_numpy(dtype="float64")
    prob = ev["match_probability"].fillna(1.0).to_numpy()
    known_days = (day - _as_day(ev["known_time"])).dt.days.to_numpy(dtype="float64", na_value=np.nan)
    known = known_days > lag  # the point-in-time rule: known to the agency (NaN: never) before the lag
    strong = prob >= config.min_match_probability
    weak = prob < config.weak_link_probability
    still_open = ~(end_days > lag)  # NaN (no end) compares False -> open
    value = ev["value"].fillna(0.0).to_numpy()
    code = ev["code"] if isinstance(ev["code"].dtype, pd.CategoricalDtype) else ev["code"].astype("category")

    out = pd.DataFrame(index=keys)
    masks: dict[tuple[str, ...], np.ndarray] = {}

    def per_person(mask: np.ndarray, values: np.ndarray | None, how: str) -> pd.Series:
        frame = pd.DataFrame({"k": person[mask]})
        if values is not None:
            frame["v"] = values[mask]
        grouped = frame.groupby("k", sort=False)
        result = grouped.size() if how == "size" else getattr(grouped["v"], how)()
        return pd.Series(result.reindex(range(len(keys))).to_numpy(), index=keys)

    for spec in specs:
        agg = spec.aggregation
        if agg in ("age_years", "sex_code", "wimd_quintile", "local_authority_code", "lives_alone"):
            out[spec.name] = _demographic(spec, cohort, config).to_numpy()
            continue
        if agg == "sum_of":
            out[spec.name] = out[list(spec.inputs)].sum(axis=1)
            continue
        if agg == "excluded_count":
            out[spec.name] = per_person(known & ~strong, None, "size").fillna(0)
            continue
        if agg == "weak_link_share":
            used = per_person(known & strong, None, "size")
            out[spec.name] = per_person(known & strong & weak, None, "size").fillna(0) / used
            continue
        if spec.codes not in masks:
            masks[spec.codes] = _code_mask(code, spec.codes)
        chosen = known & strong & masks[spec.codes]
        if spec.window_days is not None:
            chosen &= days_before <= spec.window_days
        if agg == "count":
            out[spec.name] = per_person(chosen, None, "size").fillna(0)
        elif agg == "any":
            out[spec.name] = (per_person(chosen, None, "size").fillna(0) > 0).astype(float)
        elif agg == "days_since":
            out[spec.name] = per_person(chosen, days_before.astype(float), "min")
        elif agg == "bed_days":
            stay = np.where(still_open, days_before - lag, days_before - end_days)
            out[spec.name] = per_person(chosen, stay, "sum").fillna(0)
        elif agg == "active_any":
            out[spec.name] = (per_person(chosen & still_open, None, "size").fillna(0) > 0).astype(float)
        elif agg == "active_sum_value":
            out[spec.name] = per_person(chosen & still_open, value, "sum").fillna(0)
        elif agg == "distinct_bnf_paragraphs":
            # Paragraph ('rx/' + 7 characters) per category, then per row.
            paragraph_of_category, _ = pd.factorize(pd.Series(code.cat.categories.astype(str)).str[:10])
            paragraph = paragraph_of_category[np.clip(code.cat.codes.to_numpy(), 0, None)]
            out[spec.name] = per_person(chosen, paragraph, "nunique").fillna(0)
        elif agg == "trend":
            half = (spec.window_days or 0) // 2
            recent = per_person(chosen & (days_before <= half), None, "size").fillna(0)
            earlier = per_person(chosen & (days_before > half), None, "size").fillna(0)
            out[spec.name] = recent - earlier
        else:
            raise ValueError(f"{spec.name}: aggregation {agg} not in the pandas implementation")

    horizon = config.label_horizon_days
    fall = (
        _code_mask(code, ("inpatient/fall_emergency",))
        & strong
        & (-days_before >= 1)
        & (-days_before <= horizon)
    )
    falls = per_person(fall, None, "size").fillna(0)
    covered = label_known_until is not None and (day + pd.Timedelta(days=horizon)) <= pd.Timestamp(
        label_known_until
    )
    death_after = (_as_day(cohort["date_of_death"]) - day).dt.days.to_numpy(dtype="float64", na_value=np.nan)
    died = (death_after >= 1) & (death_after <= horizon)
    dereg_after = (_as_day(cohort["deregistration_date"]) - day).dt.days.to_numpy(dtype="float64", na_value=np.nan)
    death_before_dereg = (death_after <= dereg_after)  # NaN death compares False
    moved_away = (dereg_after >= 1) & (dereg_after <= horizon) & ~death_before_dereg
    out = out.astype("float64")
    fell = (falls > 0).to_numpy()
    out["label"] = (
        pd.array(np.where(fell, 1, np.where(moved_away, -1, 0)), dtype="Int8")
        if covered
        else pd.array([pd.NA] * len(out), dtype="Int8")
    )
    out.loc[out["label"] == -1, "label"] = pd.NA
    out["died_in_window"] = pd.array(np.where(died, 1, 0 if covered else -1), dtype="Int8")
    out.loc[out["died_in_window"] == -1, "died_in_window"] = pd.NA
    out = out.reset_index(names="person_key")
    out.insert(1, "index_date", day)
    return out.sort_values("person_key").reset_index(drop=True)
