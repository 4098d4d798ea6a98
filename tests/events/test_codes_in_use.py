"""Every code the features and the alerts count is one the events stage can emit."""

from __future__ import annotations

import re

import pytest

from falls_risk.errors import FallsRiskError
from falls_risk.events import vocabulary as v
from falls_risk.features.registry import FEATURES, validate_specs
from falls_risk.features.spec import FeatureSpec
from falls_risk.scoring.alerts import ALERT_CODES


def test_every_registry_and_alert_code_can_be_emitted() -> None:
    used = {code: spec.name for spec in FEATURES for code in spec.codes}
    used.update({code: "alert" for code in ALERT_CODES})
    problems = {code: (who, why) for code, who in used.items() if (why := v.pattern_problem(code))}
    assert not problems


def test_alerts_are_the_vocabulary_alerts_with_the_one_wildcard_rule() -> None:
    assert ALERT_CODES == v.ALERTS
    assert all(not p.endswith("/") for p in ALERT_CODES)


@pytest.mark.parametrize("code", ["ed/falls", "ambulance/fall", "ed/x*", "ed/f*ll"])
def test_the_registry_refuses_a_code_nothing_emits(code: str) -> None:
    bad = [FeatureSpec("typo_365d", "typos", "health board", codes=("ed/*", code), window_days=365)]
    with pytest.raises(FallsRiskError, match=re.escape(f"typo_365d: code {code!r}")):
        validate_specs(bad)


def test_a_prefix_with_an_underscore_is_a_valid_registry_code() -> None:
    validate_specs([FeatureSpec("social_care_any", "episodes", "social care", codes=("social_care/*",),
                                singular="episode")])
