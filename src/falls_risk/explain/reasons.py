"""From contributions to reasons: each person's largest contributions, ranked, in plain language.

For each person the largest contributions become reasons, e.g. "2 ambulance calls for a fall
where they were not taken to hospital, in the last 12 months", with direction ("raises" or
"lowers") and size, grouped by the agency whose data they rest on. This module decides which
contributions are reasons and in what order; ``falls_risk.features.wording`` writes every word.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field, fields
from typing import Any

import numpy as np
import pandas as pd

from falls_risk.errors import parameter_error
from falls_risk.explain.contributions import ADDITIVITY_TOLERANCE, Contributions, contributions_for
from falls_risk.features import wording
from falls_risk.features.spec import FeatureSpec

RAISES = "raises"
LOWERS = "lowers"
DIRECTIONS = (RAISES, LOWERS)
# Contributions smaller than this (log-odds) are not worth telling anyone about.
MIN_REASON_SIZE = 1e-6


@dataclass(frozen=True)
class Reason:
    """One reason for one person: the feature whose contribution it tells (the family's largest),
    its agency, the words, and ``points``: its signed contribution on the probability scale (0-1)."""

    feature: str
    agency: str
    text: str
    points: float


def spec_for(name: str, specs: Mapping[str, FeatureSpec]) -> FeatureSpec:
    """The spec of feature ``name``; a feature the specs do not know reads as its name."""
    spec = specs.get(name)
    if spec is None:
        return FeatureSpec(name=name, description=name.replace("_", " "), agency="other")
    return spec


@dataclass(frozen=True)
class Explanation(Contributions):
    """SHAP contributions for a set of people, with their reasons in plain language.

    The numbers are those of ``Contributions``: ``contributions`` (log-odds) and
    ``probability_contributions`` (probability, 0-1) have one row per person (the index of the
    explained frame) and one column per feature;
    ``contributions.sum(axis=1) + expected_value == raw_margin`` (checked on construction);
    ``probability_contributions`` add up to ``probability - base_probability``. ``specs`` say
    what each feature is, so that the reasons can be worded.
    """

    specs: Mapping[str, FeatureSpec] = field(default_factory=dict, repr=False)
    top_n: int = 3

    @property
    def feature_names(self) -> list[str]:
        return list(self.contributions.columns)

    def agencies(self) -> dict[str, str]:
        """Feature name -> agency."""
        return {name: spec_for(name, self.specs).agency for name in self.feature_names}

    def agency_members(self) -> dict[str, list[str]]:
        """Agency -> the model's features resting on its data, in model order."""
        members: dict[str, list[str]] = {}
        for name, agency in self.agencies().items():
            members.setdefault(agency, []).append(name)
        return members

    def agency_contributions(self, *, probability: bool = False) -> pd.DataFrame:
        """Per person, the summed contribution of each agency's features (log-odds or probability).

        Because SHAP values add up, an agency's sum is its share of the person's risk.
        """
        frame = self.probability_contributions if probability else self.contributions
        return pd.DataFrame(
            {agency: frame[names].sum(axis=1) for agency, names in sorted(self.agency_members().items())},
            index=frame.index,
        )

    def mean_abs(self) -> pd.Series:
        """Global importance: mean |SHAP| (log-odds) per feature, largest first."""
        return self.contributions.abs().mean().sort_values(ascending=False)

    def _families(self) -> list[list[int]]:
        """Column indices grouped into families: the same measure over different windows."""
        groups: dict[tuple[str, str], list[int]] = {}
        for i, name in enumerate(self.feature_names):
            spec = spec_for(name, self.specs)
            groups.setdefault((spec.agency, spec.description), []).append(i)
        return list(groups.values())

    def reasons(
        self, top_n: int | None = None, *, direction: str | None = RAISES, group_windows: bool = True
    ) -> pd.DataFrame:
        """The largest contributions per person as a tidy frame.

        Columns: ``row`` (index of the explained frame), ``rank`` (1 = largest), ``feature``,
        ``agency``, ``direction`` ("raises"/"lowers"), ``contribution`` (log-odds),
        ``probability_contribution``, ``value`` (the person's value), ``text``. ``direction``
        selects reasons that raise risk (default), lower it, or ``None`` for both, ranked by size.

        With ``group_windows`` (default) the same measure over different windows (e.g. ambulance
        calls for a fall in 90 days, 12 months, 2 years, ever) is one reason: its contribution is
        the family's sum (SHAP values add up), told through the window that contributes most.
        """
        return self._reasons(top_n, direction=direction, group_windows=group_windows)[0]

    def _reasons(
        self, top_n: int | None, *, direction: str | None, group_windows: bool
    ) -> tuple[pd.DataFrame, np.ndarray]:
        """``reasons`` and, for each of its rows, the position of the person in the explained frame
        (the frame's index may repeat a person seen at several index dates)."""
        top_n = self.top_n if top_n is None else top_n
        if not isinstance(top_n, int) or isinstance(top_n, bool) or top_n < 1:
            raise parameter_error("top_n", "a positive whole number", top_n)
        if direction not in (*DIRECTIONS, None):
            raise parameter_error("direction", "'raises', 'lowers' or None", direction)
        phi_all = self.contributions.to_numpy(dtype=float)
        p_all = self.probability_contributions.to_numpy(dtype=float)
        n_rows = phi_all.shape[0]
        families = self._families() if group_windows else [[i] for i in range(phi_all.shape[1])]
        phi = np.column_stack([phi_all[:, f].sum(axis=1) for f in families]) if families else phi_all
        pcontrib = np.column_stack([p_all[:, f].sum(axis=1) for f in families]) if families else p_all
        # The member that tells the family's story: the largest contribution in its direction.
        member = np.column_stack(
            [
                np.asarray(f)[np.argmax(phi_all[:, f] * np.sign(phi[:, [j]]), axis=1)]
                for j, f in enumerate(families)
            ]
        ) if families else np.zeros((n_rows, 0), dtype=int)
        if direction == RAISES:
            key = np.where(phi > MIN_REASON_SIZE, -phi, np.inf)
        elif direction == LOWERS:
            key = np.where(phi < -MIN_REASON_SIZE, phi, np.inf)
        else:
            key = np.where(np.abs(phi) > MIN_REASON_SIZE, -np.abs(phi), np.inf)
        k = min(top_n, phi.shape[1])
        none = np.zeros(0, dtype=int)
        if n_rows == 0 or k == 0:
            return self._empty_reasons(), none
        top = np.argsort(key, axis=1, kind="stable")[:, :k]
        rows, ranks = np.nonzero(np.isfinite(np.take_along_axis(key, top, axis=1)))
        if len(rows) == 0:
            return self._empty_reasons(), none
        fams = top[rows, ranks]
        cols = member[rows, fams].astype(int)
        contribution = phi[rows, fams]
        values = self.values.to_numpy(dtype=float)[rows, cols]
        names = np.asarray(self.feature_names, dtype=object)[cols]
        agency_of = self.agencies()
        frame = pd.DataFrame(
            {
                "row": self.contributions.index[rows],
                "rank": ranks + 1,
                "feature": names,
                "agency": [agency_of[n] for n in names],
                "direction": np.where(contribution > 0, RAISES, LOWERS),
                "contribution": contribution,
                "probability_contribution": pcontrib[rows, fams],
                "value": np.where(np.isnan(values), np.nan, values),
                "text": self._describe(cols, values),
            }
        )
        return frame, rows

    def _describe(self, cols: np.ndarray, values: np.ndarray) -> list[str]:
        """Each (feature column, value) in words; values repeat (counts, flags), so each distinct
        pair is described once."""
        cache: dict[tuple[int, float | None], str] = {}
        specs = [spec_for(name, self.specs) for name in self.feature_names]
        texts = []
        for c, v in zip(cols.tolist(), values.tolist(), strict=True):
            key = (c, None if np.isnan(v) else v)  # NaN never equals itself: key it as None
            text = cache.get(key)
            if text is None:
                text = cache[key] = wording.describe_value(specs[c], v)
            texts.append(text)
        return texts

    @staticmethod
    def _empty_reasons() -> pd.DataFrame:
        return pd.DataFrame(
            {
                "row": pd.Series(dtype=object),
                "rank": pd.Series(dtype="int64"),
                "feature": pd.Series(dtype=object),
                "agency": pd.Series(dtype=object),
                "direction": pd.Series(dtype=object),
                "contribution": pd.Series(dtype=float),
                "probability_contribution": pd.Series(dtype=float),
                "value": pd.Series(dtype=float),
                "text": pd.Series(dtype=object),
            }
        )

    def reason_items(
        self,
        top_n: int | None = None,
        *,
        direction: str | None = RAISES,
        min_points: float = 0.0,
        facts: Mapping[Any, Any] | None = None,
        as_of: Any = None,
    ) -> list[list[Reason]]:
        """Each person's reasons (one list per row of the explained frame, largest first).

        A reason is kept only if it moves the risk by at least ``min_points`` percentage points
        (e.g. 0.5), and at most ``top_n`` are kept. With ``facts`` (index label -> the person's
        ``scoring.facts.PersonFacts``) a reason states the facts it rests on (which conditions,
        which medicines, when the last fall was) instead of a count; reasons that come to the same
        facts (the falls a GP, a hospital and the ambulance service each recorded) are one reason
        whose size is their sum (SHAP values add up).
        """
        top_n = self.top_n if top_n is None else top_n
        if not isinstance(min_points, (int, float)) or isinstance(min_points, bool) or min_points < 0:
            raise parameter_error("min_points", "a number of percentage points >= 0", min_points)
        # Families may merge into one fact: rank more of them than will be kept.
        tidy, positions = self._reasons(max(3 * top_n, top_n + 5), direction=direction, group_windows=True)
        out: list[list[Reason]] = [[] for _ in range(len(self.contributions))]
        if tidy.empty:
            return out
        labels = self.contributions.index
        merged: dict[int, dict[str, Reason]] = {}
        for pos, feature, agency, text, points in zip(
            positions.tolist(), tidy["feature"].tolist(), tidy["agency"].tolist(), tidy["text"].tolist(),
            tidy["probability_contribution"].tolist(), strict=True,
        ):
            person = None if facts is None else facts.get(labels[pos])
            told = wording.fact_text(feature, person, as_of=as_of) or wording.without_definitions(text)
            mine = merged.setdefault(pos, {})
            if told in mine:
                before = mine[told]
                mine[told] = Reason(before.feature, before.agency, told, before.points + points)
            else:
                mine[told] = Reason(feature, agency, told, points)
        threshold = min_points / 100
        for pos, reasons in merged.items():
            kept = [r for r in reasons.values() if abs(r.points) >= threshold]
            kept.sort(key=lambda r: -abs(r.points))
            out[pos] = kept[:top_n]
        return out

    def reasons_text(
        self,
        top_n: int | None = None,
        *,
        direction: str | None = RAISES,
        group_windows: bool = True,
        min_points: float = 0.0,
        facts: Mapping[Any, Any] | None = None,
        as_of: Any = None,
    ) -> pd.Series:
        """One plain string per person (for a CSV column), reasons grouped by agency.

        E.g. "Ambulance service: 2 ambulance calls for a fall where they were not taken to
        hospital, in the last 12 months (raises risk by 4.2 points). Social care: ...". People with
        no reason in that direction get an empty string. ``min_points`` and ``facts``: as in
        :meth:`reason_items` (``group_windows=False`` tells each window apart, without facts).
        """
        out = pd.Series("", index=self.contributions.index, dtype=object, name="reasons")
        if not group_windows:
            tidy, positions = self._reasons(top_n, direction=direction, group_windows=False)
            items: list[list[Reason]] = [[] for _ in range(len(out))]
            for pos, feature, agency, text, points in zip(
                positions.tolist(), tidy["feature"].tolist(), tidy["agency"].tolist(), tidy["text"].tolist(),
                tidy["probability_contribution"].tolist(), strict=True,
            ):
                if abs(points) * 100 >= min_points:
                    items[pos].append(Reason(feature, agency, text, points))
        else:
            items = self.reason_items(top_n, direction=direction, min_points=min_points, facts=facts, as_of=as_of)
        texts = []
        for reasons in items:
            groups: dict[str, list[str]] = {}
            for r in reasons:
                groups.setdefault(r.agency, []).append(wording.reason(r.text, raises=r.points > 0, points=r.points))
            texts.append(wording.reasons_by_agency(groups) if groups else "")
        out[:] = texts
        return out

    def to_frame(self, prefix: str = "shap__") -> pd.DataFrame:
        """The full contribution vector per person (log-odds), to store beside the scores.

        Columns: ``shap__<feature>`` for each feature, plus ``shap__expected_value``.
        """
        frame = self.contributions.add_prefix(prefix)
        frame[f"{prefix}expected_value"] = self.expected_value
        return frame


def _registry_specs() -> dict[str, FeatureSpec]:
    try:
        from falls_risk.features.registry import FEATURES
    except ImportError:  # the registry is optional when explaining a model trained elsewhere
        return {}
    return {spec.name: spec for spec in FEATURES}


def explain(
    model: Any,
    X: pd.DataFrame,
    *,
    specs: Iterable[FeatureSpec] | Mapping[str, FeatureSpec] | None = None,
    top_n: int = 3,
    backend: Any = "auto",
    tolerance: float = ADDITIVITY_TOLERANCE,
) -> Explanation:
    """Explain ``model``'s predictions for the rows of ``X``.

    ``model`` is a FallsRiskModel (or anything with a LightGBM ``booster_``); ``X`` holds at least
    the model's feature columns (others, such as ``person_key``, are ignored and never copied).
    ``specs`` default to the feature registry. Raises ModelError if the contributions do not add
    up to the model's raw margin within ``tolerance``.
    """
    if not isinstance(top_n, int) or top_n < 1:
        raise parameter_error("top_n", "a positive whole number", top_n)
    if specs is None:
        model_specs = getattr(model, "specs_", None)
        spec_map = {s.name: s for s in model_specs} if model_specs else _registry_specs()
    elif isinstance(specs, Mapping):
        spec_map = dict(specs)
    else:
        spec_map = {spec.name: spec for spec in specs}
    numbers = contributions_for(model, X, backend=backend, tolerance=tolerance)
    return Explanation(**{f.name: getattr(numbers, f.name) for f in fields(numbers)}, specs=spec_map, top_n=top_n)


def explanation_summary(explanation: Explanation, *, max_features: int | None = None) -> pd.DataFrame:
    """Global importance table: feature, agency, description, mean |SHAP| (log-odds and points)."""
    imp = explanation.mean_abs()
    pimp = explanation.probability_contributions.abs().mean()
    rows = []
    for name in imp.index[: max_features or len(imp)]:
        spec = spec_for(name, explanation.specs)
        rows.append(
            {
                "feature": name,
                "description": spec.description,
                "agency": spec.agency,
                "mean_abs_shap": float(imp[name]),
                "mean_abs_points": float(pimp[name]) * 100,
            }
        )
    return pd.DataFrame(rows)
