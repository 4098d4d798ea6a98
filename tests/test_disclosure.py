"""Counts of 1-4 never reach a report: one helper decides, and every report uses it."""

import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from falls_risk.disclosure import metric_or_suppressed, share_or_suppressed, suppress_count
from falls_risk.templating import environment


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


def test_a_share_is_withheld_when_its_count_or_the_rest_is_small():
    assert share_or_suppressed(92, 100) == "92.0%"
    assert share_or_suppressed(3, 100) == "n/a (<5)"
    assert share_or_suppressed(97, 100) == "n/a (<5)"  # the 3 not linked would be given away
    assert share_or_suppressed(0, 100) == "0.0%" and share_or_suppressed(100, 100) == "100.0%"
    assert share_or_suppressed(0, 0) == "-"


# The linkage report's own helpers before issue 13, kept as oracles: the one helper shows the same.
def _old_linkage_count(n: float) -> str:
    n = int(n)
    return "<5" if 0 < n < 5 else f"{n:,}"


def _old_linkage_rate(numerator: int, denominator: int) -> str:
    if denominator == 0:
        return "-"
    if 0 < numerator < 5 or 0 < denominator - numerator < 5:
        return "n/a (<5)"
    return f"{100 * numerator / denominator:.1f}%"


@given(st.integers(0, 10**7))
def test_counts_show_as_the_linkage_report_showed_them(n: int):
    assert suppress_count(n) == _old_linkage_count(n)


@given(st.integers(0, 10**6), st.integers(0, 10**6))
def test_shares_show_as_the_linkage_report_showed_them(a: int, b: int):
    part, whole = min(a, b), max(a, b)
    assert share_or_suppressed(part, whole) == _old_linkage_rate(part, whole)
