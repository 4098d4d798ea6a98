"""The truth behaves like the literature: fall-admission rates by age, and risk factors that
raise the hazard. Uses the shared 3,000-person world."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from falls_risk.synth import simulate


@pytest.fixture(scope="module")
def person_months(world_dir):
    truth = world_dir / "truth"
    hz = pd.read_parquet(truth / "monthly_hazard.parquet")
    people = pd.read_parquet(truth / "people.parquet")
    falls = pd.read_parquet(truth / "fall_admissions.parquet")
    hz = hz.merge(people, on="nhs_number", how="left")
    month = pd.to_datetime(hz["month"])
    hz["age"] = (month - pd.to_datetime(hz["date_of_birth"])).dt.days / 365.25
    hz["month"] = month
    falls["month"] = pd.to_datetime(falls["admission_date"]).dt.to_period("M").dt.to_timestamp()
    counts = falls.groupby(["nhs_number", "month"]).size().rename("falls")
    hz = hz.merge(counts, left_on=["nhs_number", "month"], right_index=True, how="left")
    hz["falls"] = hz["falls"].fillna(0)
    return hz


def _annual(df: pd.DataFrame) -> tuple[float, float]:
    """(expected annual rate from the true hazard, observed annual rate), in per cent."""
    years = len(df) / 12
    return 100 * df["hazard"].sum() / years, 100 * df["falls"].sum() / years


def test_fall_admission_rate_65_plus_is_about_two_per_cent(person_months):
    expected, observed = _annual(person_months[person_months["age"] >= 65])
    assert 1.5 < expected < 2.7
    assert 1.3 < observed < 3.0


def test_fall_admission_rate_rises_from_one_to_nine_per_cent_with_age(person_months):
    young = person_months[(person_months["age"] >= 65) & (person_months["age"] < 70)]
    old = person_months[person_months["age"] >= 90]
    e_young, _ = _annual(young)
    e_old, o_old = _annual(old)
    assert 0.5 < e_young < 1.5
    assert 6.0 < e_old < 14.0
    assert 4.0 < o_old < 18.0
    # Monotone across five-year bands.
    bands = pd.cut(person_months["age"], [65, 70, 75, 80, 85, 90, 120], right=False)
    rates = person_months.groupby(bands, observed=True)["hazard"].mean()
    assert (np.diff(rates.to_numpy()) > 0).all()


def test_previous_fall_raises_the_true_hazard(person_months):
    pm = person_months[person_months["age"] >= 65].sort_values(["nhs_number", "month"])
    # A fall admission in the previous twelve months (the admission month itself excluded).
    prior = pm.groupby("nhs_number")["falls"].transform(lambda s: s.shift(1).rolling(12, min_periods=1).sum())
    with_fall = pm["hazard"][prior > 0]
    without = pm["hazard"][~(prior > 0)]
    assert len(with_fall) > 100
    assert with_fall.mean() / without.mean() > 2.0


def test_attenuation_keeps_each_ages_incidence_and_narrows_risk_at_older_ages(monkeypatch):
    monkeypatch.setattr(simulate, "FALL_RR_ATTENUATION_PER_DECADE", 0.3)
    rng = np.random.default_rng(0)
    age = np.repeat([66.5, 76.5, 91.5], 2000)
    risk = rng.normal(0.5, 0.8, age.size)
    alive = np.ones(age.size, dtype=bool)
    attenuated = simulate.attenuate_with_age(risk, age, alive)
    for years in (66.5, 76.5, 91.5):
        at = age == years
        # Same mean rate at each age: the calibrated incidence by age does not move.
        assert np.exp(attenuated[at]).mean() == pytest.approx(np.exp(risk[at]).mean(), rel=1e-9)
    spread = {years: attenuated[age == years].std() / risk[age == years].std() for years in (66.5, 76.5, 91.5)}
    # Relative risks are stronger than the base at 66 (scale 1.27), weaker at 91 (0.52).
    assert spread[66.5] == pytest.approx(1.27, abs=1e-9)
    assert spread[76.5] == pytest.approx(0.97, abs=1e-9)
    assert spread[91.5] == pytest.approx(0.52, abs=1e-9)
    # The dead do not set the level of the living.
    alive[age == 91.5] = False
    assert np.isfinite(simulate.attenuate_with_age(risk, age, alive)).all()


def test_risk_factors_matter_less_at_older_ages_in_the_true_hazard(person_months):
    """Within a year of age, the spread of the log true hazard is what the risk factors make.
    Risk factors pile up with age, so with age-independent relative risks the spread at 85-94 is
    about 1.7 times that at 65-74; relative risks that weaken with age bring it below 1.1 (0.8-0.9)."""
    pm = person_months[(person_months["age"] >= 65) & (person_months["hazard"] > 0)].copy()
    pm["year"] = pm["age"].astype(int)
    spread = np.log(pm["hazard"]).groupby(pm["year"]).std()
    assert spread[(spread.index >= 85) & (spread.index < 95)].mean() < 1.1 * spread[spread.index < 75].mean()


@pytest.mark.parametrize(
    ("factor", "low", "high"),
    [
        ("dementia", 1.5, 8.0),
        ("parkinsons", 1.5, 10.0),
        ("incontinence", 1.2, 6.0),
        ("visual_impairment", 1.1, 6.0),
    ],
)
def test_conditions_raise_the_true_hazard(person_months, factor, low, high):
    pm = person_months[person_months["age"] >= 65]
    onset = pd.to_datetime(pm[f"onset_{factor}"])
    has = onset.notna() & (onset <= pm["month"])
    ratio = pm["hazard"][has].mean() / pm["hazard"][~has].mean()
    assert low < ratio < high


def test_women_living_alone_and_deprivation_raise_the_true_hazard(world_dir, person_months):
    pm = person_months[(person_months["age"] >= 65)]
    first_year = pm[pm["month"] < pd.Timestamp("2020-01-01")]
    assert pm["hazard"][pm["sex"] == "F"].mean() > pm["hazard"][pm["sex"] == "M"].mean()
    alone = first_year["lives_alone_start"].fillna(False).astype(bool)
    assert first_year["hazard"][alone].mean() > 1.1 * first_year["hazard"][~alone].mean()
    dep = pd.read_csv(world_dir / "extract" / "deprivation.csv")
    # Deprivation is a modest effect: compare all person-months (50+) for a steadier estimate.
    rank = person_months["lsoa_code_start"].map(dep.set_index("lsoa_code")["wimd_rank"])
    most = person_months["hazard"][rank <= rank.quantile(0.3)].mean()
    least = person_months["hazard"][rank >= rank.quantile(0.7)].mean()
    assert most > least


def test_deaths_and_age_structure_look_like_wales(world_dir):
    people = pd.read_parquet(world_dir / "truth" / "people.parquet")
    spine = people[people["in_spine"]]
    age = (pd.Timestamp("2019-01-01") - pd.to_datetime(spine["date_of_birth"])).dt.days / 365.25
    assert age.min() >= 49.9
    share_65_74 = ((age >= 65) & (age < 75)).mean()
    share_90 = (age >= 90).mean()
    assert share_65_74 > 3 * share_90
    assert 0.01 < share_90 < 0.06
    died = spine["date_of_death"].notna().mean()
    assert 0.05 < died < 0.3


def test_fall_risk_increasing_drugs_go_with_a_higher_true_hazard(world_dir, person_months):
    rx = pd.read_parquet(world_dir / "extract" / "prescriptions.parquet")
    frid = rx[rx["bnf_code"].str.upper().str.startswith(("0401", "0402", "0403", "0408", "040702"))]
    exposed = set(
        zip(
            frid["nhs_number"].str.replace(" ", ""),
            pd.to_datetime(frid["issue_date"]).dt.to_period("M").dt.to_timestamp(),
            strict=True,
        )
    )
    pm = person_months[person_months["age"] >= 65]
    on = np.array([(n, m) in exposed for n, m in zip(pm["nhs_number"], pm["month"], strict=True)])
    assert on.mean() > 0.02
    assert pm["hazard"][on].mean() > 1.3 * pm["hazard"][~on].mean()


def test_a_spouses_death_leaves_the_survivor_alone_and_people_move(world_dir):
    people = pd.read_parquet(world_dir / "truth" / "people.parquet")
    spine = people[people["in_spine"]].set_index("nhs_number")
    couples = spine[spine["spouse_nhs_number"].notna()]
    widowed = couples[
        couples["spouse_nhs_number"].map(spine["date_of_death"]).notna() & couples["date_of_death"].isna()
    ]
    assert len(widowed) > 10
    assert not couples["lives_alone_start"].any()
    assert widowed["lives_alone_end"].mean() > 0.6
    population = pd.read_csv(world_dir / "extract" / "population.csv", dtype=str, keep_default_na=False)
    moved = population.set_index("nhs_number")["lsoa_code"] != spine["lsoa_code_start"].reindex(
        population["nhs_number"]
    )
    assert 0.01 < moved.mean() < 0.25
