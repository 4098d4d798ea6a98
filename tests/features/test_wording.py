"""The practitioner's words: every feature's value, window and reason read as plain language."""

from __future__ import annotations

import numpy as np
import pytest

from falls_risk.features import wording
from falls_risk.features.registry import FEATURES, get_feature
from falls_risk.features.spec import FeatureSpec, Reading
from falls_risk.features.wording import describe_value
from tests.explain.explain_fixtures import SPECS


@pytest.mark.parametrize(
    ("name", "value", "expected"),
    [
        ("amb_nc_365d", 2, "2 ambulance calls for a fall where they were not taken to hospital, in the last 12 months"),
        ("amb_nc_365d", 1, "1 ambulance call for a fall where they were not taken to hospital, in the last 12 months"),
        ("amb_nc_365d", 0, "no ambulance calls for a fall where they were not taken to hospital, in the last 12 months"),
        ("amb_nc_ever", 3, "3 ambulance calls for a fall where they were not taken to hospital on record"),
        ("tenure", 1, "housing tenure: council"),
        ("home_care_active", 1, "receiving home care"),
        ("home_care_active", 0, "not receiving home care"),
        ("days_since_fall", 200, "their last recorded fall (any agency) was about 7 months ago"),
        ("days_since_fall", 3, "their last recorded fall (any agency) was 3 days ago"),
        ("days_since_fall", np.nan, "no fall ever recorded"),
        ("age", 84, "age: 84 years"),
        ("tenure", np.nan, "housing tenure: not recorded"),
    ],
)
def test_values_are_described_in_plain_language(name, value, expected):
    spec = next(s for s in SPECS if s.name == name)
    assert describe_value(spec, value) == expected


def test_every_registry_feature_reads_without_codes_or_nan():
    for spec in FEATURES:
        for value in ([0, 1] if spec.is_categorical else [0, 1, 3, np.nan]):
            text = describe_value(spec, value)
            assert text and "nan" not in text and "_" not in text, (spec.name, value, text)


def test_a_count_of_one_reads_its_declared_singular():
    counts = [s for s in FEATURES if s.reading is Reading.COUNT]
    assert len(counts) > 20
    for spec in counts:
        assert describe_value(spec, 1).startswith(f"1 {spec.singular}")
        assert describe_value(spec, 2).startswith(f"2 {spec.plural}")
    assert describe_value(get_feature("frid_classes_90d"), 1) == (
        "1 class of fall-risk-increasing medicine prescribed, in the last 90 days"
    )


def test_a_count_declared_without_a_singular_reads_its_plural_rather_than_a_guess():
    spec = FeatureSpec("visits", "home visits", "social care", window_days=90)
    assert describe_value(spec, 1) == "1 home visits, in the last 90 days"


def test_categories_read_through_the_specs_labels_not_its_name():
    assert describe_value(get_feature("sex"), 0) == "sex: male"
    assert describe_value(get_feature("sex"), 2) == "sex: not known"
    labelled = FeatureSpec("gender", "gender", "demographics", kind="categorical", categories=("M", "F"),
                           category_labels=wording.category_labels(("M", "F"), wording.SEX_LABELS))
    assert describe_value(labelled, 1) == "gender: female"
    unlabelled = FeatureSpec("sex", "sex", "demographics", kind="categorical", categories=("M", "F"))
    assert describe_value(unlabelled, 0) == "sex: M"
    assert describe_value(unlabelled, 5) == "sex: category 5"


@pytest.mark.parametrize(
    ("days", "expected"),
    [(0.5, "today"), (1, "1 day ago"), (13, "13 days ago"), (20, "3 weeks ago"), (59, "8 weeks ago"),
     (60, "about 2 months ago"), (729, "about 24 months ago"), (800, "about 2 years ago")],
)
def test_time_since_an_event_reads_as_a_person_says_it(days, expected):
    assert wording.time_ago(days) == expected


def test_windows_read_in_words():
    assert wording.label(get_feature("ambulance_fall_not_conveyed_365d")) == (
        "ambulance calls for a fall where they were not taken to hospital (in the last 12 months)"
    )
    assert wording.label(get_feature("home_care_active")) == "receiving home care"
    assert wording.window_text(FeatureSpec("x", "x", "police", window_days=90)) == "in the last 90 days"
    assert wording.window_text(FeatureSpec("x", "x", "police", window_days=None)) == "ever"


def test_a_reason_says_which_way_and_how_far_it_moves_the_risk():
    assert wording.reason("receiving home care", raises=False, points=-0.0123) == (
        "receiving home care (lowers risk by 1.2 points)"
    )
    assert wording.risk_effect(raises=True, points=0.0004) == "raises risk by <0.1 points"
    text = wording.reasons_by_agency({"ambulance service": ["a (raises risk by 1.0 points)", "b"], "police": ["c"]})
    assert text == "Ambulance service: a (raises risk by 1.0 points); b. Police: c."
