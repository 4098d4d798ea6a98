"""Counts of 1-4 never reach a commissioner: one helper decides, and the template uses it."""

import math

import pytest

from falls_risk.reporting.render import environment
from falls_risk.reporting.suppression import metric_or_suppressed, suppress_count


@pytest.mark.parametrize(
    ("count", "shown"),
    [(0, "0"), (1, "<5"), (4, "<5"), (4.0, "<5"), (5, "5"), (1234, "1,234"), (None, "–"), (math.nan, "–")],
)
def test_small_counts_are_shown_as_less_than_five(count, shown):
    assert suppress_count(count) == shown


def test_rates_resting_on_a_small_count_are_withheld():
    assert metric_or_suppressed(0.5, 3, fmt="{:.0%}") == "–"
    assert metric_or_suppressed(0.5, 30, fmt="{:.0%}") == "50%"
    assert metric_or_suppressed(float("nan"), 30) == "–"


def test_the_template_count_filter_is_the_suppression_helper():
    env = environment()
    assert env.from_string("{{ n | count }}").render(n=3) == "&lt;5"
    assert env.from_string("{{ n | count }}").render(n=12000) == "12,000"
