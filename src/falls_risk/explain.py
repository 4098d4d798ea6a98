"""SHAP explanations of the LightGBM model, and the plain-language reasons built from them.

This is the only module that imports shap. Contributions are computed on the model's log-odds
scale (exact Tree SHAP, ``tree_path_dependent``), checked for additivity against the model's raw
margin (contributions + expected value = raw margin), and also shown on the probability scale.

Two backends compute the same numbers: shap's ``TreeExplainer`` and LightGBM's own
``Booster.predict(pred_contrib=True)``. ``bench/bench_explain.py`` times both on a realistic model
and checks they agree; ``backend="auto"`` uses the faster, LightGBM's. Measured here (shap 0.51):
for a LightGBM booster with ``tree_path_dependent`` and no background data, ``TreeExplainer``
itself calls ``pred_contrib`` (so the two agree exactly and shap only adds the cost of parsing
the model dump), and shap's own C++ Tree SHAP on its parsed trees agrees with LightGBM only
when the model has no categorical splits: it mis-encodes LightGBM's categorical thresholds. So
LightGBM's implementation (exact for categorical splits, multithreaded) is the one used.

For each person the largest contributions become reasons in plain language, written from the
feature registry's descriptions and the person's own values, e.g. "2 ambulance calls for a fall
where they were not taken to hospital, in the last 12 months", with direction ("raises" or
"lowers") and size, grouped by the agency whose data they rest on.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from falls_risk.errors import ModelError, parameter_error
from falls_risk.features.spec import FeatureSpec

BACKENDS = ("auto", "pred_contrib", "shap")
# The measured faster backend (bench/bench_explain.py); "auto" resolves to it.
FASTEST_BACKEND = "pred_contrib"
RAISES = "raises"
LOWERS = "lowers"
DIRECTIONS = (RAISES, LOWERS)
# Contributions + expected value must equal the raw margin within this (log-odds).
ADDITIVITY_TOLERANCE = 1e-4
# Contributions smaller than this (log-odds) are not worth telling anyone about.
MIN_REASON_SIZE = 1e-6


# --------------------------------------------------------------------------------------------
# The model, as explain needs it
# --------------------------------------------------------------------------------------------


def _booster(model: Any) -> Any:
    """The lightgbm.Booster inside a FallsRiskModel, an LGBMClassifier, or a Booster itself."""
    import lightgbm

    if isinstance(model, lightgbm.Booster):
        return model
    booster = getattr(model, "booster_", None)
    if isinstance(booster, lightgbm.Booster):
        return booster
    raise ModelError(
        f"Cannot explain a {type(model).__name__}: SHAP reasons need a tree model with a LightGBM "
        "booster (`booster_`). Explain the LightGBM model, not a baseline."
    )


def feature_names(model: Any) -> list[str]:
    """The model's feature columns, in the order it was trained on."""
    names = getattr(model, "feature_names_", None)
    if names is None:
        names = _booster(model).feature_name()
    return list(names)


def _raw_margin(model: Any, X: pd.DataFrame) -> np.ndarray:
    if hasattr(model, "raw_margin"):
        return np.asarray(model.raw_margin(X), dtype=float).reshape(-1)
    return np.asarray(_booster(model).predict(X, raw_score=True), dtype=float).reshape(-1)


def _probability(model: Any, X: pd.DataFrame) -> np.ndarray:
    """The model's (calibrated) probability of the positive class, 1-D."""
    import lightgbm

    if isinstance(model, lightgbm.Booster):
        return np.asarray(model.predict(X), dtype=float).reshape(-1)
    proba = np.asarray(model.predict_proba(X), dtype=float)
    return proba[:, -1] if proba.ndim == 2 else proba


def _margin_to_probability(model: Any, margin: np.ndarray) -> np.ndarray:
    """Map log-odds to the model's reported probability (calibrated where the model says how)."""
    margin = np.asarray(margin, dtype=float)
    calibrator = getattr(model, "calibrator_", None)
    if calibrator is not None:
        return np.asarray(calibrator.predict(margin.reshape(-1)), dtype=float).reshape(margin.shape)
    return 1.0 / (1.0 + np.exp(-margin))


def _feature_frame(model: Any, X: pd.DataFrame) -> pd.DataFrame:
    """The model's feature columns of ``X`` in training order; a clear error if any are absent."""
    if not isinstance(X, pd.DataFrame):
        raise parameter_error("X", "a pandas DataFrame with the model's feature columns", type(X).__name__)
    names = feature_names(model)
    missing = [name for name in names if name not in X.columns]
    if missing:
        from falls_risk.errors import format_examples

        raise ModelError(
            f"The rows to explain lack {len(missing)} of the model's feature columns: "
            f"{format_examples(missing)}. Build them with the same feature registry the model was "
            "trained on (`falls-risk features`)."
        )
    # As the model reads them: float64, categoricals as integer codes (never a category dtype).
    return X.loc[:, names].astype("float64")


# --------------------------------------------------------------------------------------------
# Contributions
# --------------------------------------------------------------------------------------------


def _import_shap() -> Any:
    """shap, imported without its own deprecation chatter (matplotlib colour-map notices)."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", PendingDeprecationWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        import shap
    return shap


def _contributions_pred_contrib(booster: Any, X: pd.DataFrame) -> tuple[np.ndarray, float]:
    out = np.asarray(booster.predict(X, pred_contrib=True), dtype=float)
    if out.ndim != 2 or out.shape[1] != X.shape[1] + 1:
        raise ModelError(
            f"LightGBM returned contributions of shape {out.shape} for {X.shape[1]} features; "
            "only binary models can be explained."
        )
    bias = out[:, -1]
    return out[:, :-1], float(bias[0]) if len(bias) else float("nan")


def _contributions_shap(booster: Any, X: pd.DataFrame) -> tuple[np.ndarray, float]:
    shap = _import_shap()
    explainer = shap.TreeExplainer(booster, feature_perturbation="tree_path_dependent")
    with warnings.catch_warnings():
        # shap announces its (long-standing) list-of-arrays output for LightGBM; handled below.
        warnings.filterwarnings("ignore", message=".*output has changed to a list of ndarray")
        values = explainer.shap_values(X, check_additivity=False)
    if isinstance(values, list):  # older shap: one array per class
        values = values[-1]
    values = np.asarray(values, dtype=float)
    expected = np.asarray(explainer.expected_value, dtype=float).reshape(-1)
    return values, float(expected[-1])


def compute_contributions(model: Any, X: pd.DataFrame, *, backend: str = "auto") -> tuple[pd.DataFrame, float]:
    """Log-odds contributions (one column per feature, ``X``'s index) and the expected value."""
    if backend not in BACKENDS:
        raise parameter_error("backend", f"one of {BACKENDS}", backend)
    features = _feature_frame(model, X)
    booster = _booster(model)
    resolved = FASTEST_BACKEND if backend == "auto" else backend
    if len(features) == 0:
        return pd.DataFrame(columns=features.columns, index=features.index, dtype=float), float("nan")
    if resolved == "shap":
        values, expected = _contributions_shap(booster, features)
    else:
        values, expected = _contributions_pred_contrib(booster, features)
    return pd.DataFrame(values, index=features.index, columns=features.columns), expected


def check_additivity(
    contributions: pd.DataFrame, expected_value: float, raw_margin: np.ndarray, *, tolerance: float = ADDITIVITY_TOLERANCE
) -> float:
    """Raise unless contributions + expected value equal the raw margin; return the largest gap."""
    if len(contributions) == 0:
        return 0.0
    total = contributions.to_numpy(dtype=float).sum(axis=1) + expected_value
    gap = np.abs(total - np.asarray(raw_margin, dtype=float))
    worst = int(np.argmax(gap))
    if not np.isfinite(gap[worst]) or gap[worst] > tolerance:
        raise ModelError(
            f"SHAP contributions do not add up to the model's raw margin: row {contributions.index[worst]!r} "
            f"is off by {gap[worst]:.3g} log-odds (tolerance {tolerance:g}). The model and its booster "
            "disagree; retrain or re-register the model."
        )
    return float(gap[worst])


def backends_agree(model: Any, X: pd.DataFrame, *, tolerance: float = ADDITIVITY_TOLERANCE) -> float:
    """Largest difference between shap's TreeExplainer and LightGBM's pred_contrib on ``X``."""
    a, ev_a = compute_contributions(model, X, backend="shap")
    b, ev_b = compute_contributions(model, X, backend="pred_contrib")
    diff = max(float(np.abs(a.to_numpy() - b.to_numpy()).max(initial=0.0)), abs(ev_a - ev_b))
    if diff > tolerance:
        raise ModelError(
            f"shap's TreeExplainer and LightGBM's pred_contrib disagree by up to {diff:.3g} log-odds "
            f"(tolerance {tolerance:g}); use backend='pred_contrib' and report this model."
        )
    return diff


# --------------------------------------------------------------------------------------------
# Plain language
# --------------------------------------------------------------------------------------------

_NOT_PLURAL = re.compile(r"(ss|us|is|ous)$")
_PREPOSITIONS = {"for", "of", "with", "where", "in", "to", "from", "by", "at", "on", "after", "about"}


def _singular(description: str) -> str:
    """Make the head noun singular ("ambulance calls for a fall" -> "ambulance call for a fall").

    The head noun is the last plural-looking word before the first preposition; descriptions are
    written in the plural so that a count can precede them.
    """
    words = description.split(" ")
    stop = next((i for i, w in enumerate(words) if w.lower() in _PREPOSITIONS), len(words))
    for i in range(stop - 1, -1, -1):
        word = words[i]
        if len(word) > 3 and word.endswith("s") and not _NOT_PLURAL.search(word.lower()):
            if word.endswith("ies"):
                words[i] = word[:-3] + "y"
            elif word.endswith(("ches", "shes", "xes", "sses")):
                words[i] = word[:-2]
            else:
                words[i] = word[:-1]
            break
    return " ".join(words)


def _number(value: float) -> str:
    if float(value).is_integer():
        return f"{int(value):,}"
    if abs(value) >= 10:
        return f"{value:,.0f}"
    return f"{value:.1f}"


def _ago(days: float) -> str:
    days = float(days)
    if days < 1:
        return "today"
    if days < 14:
        n = round(days)
        return f"{n} day{'s' if n != 1 else ''} ago"
    if days < 60:
        n = round(days / 7)
        return f"{n} weeks ago"
    if days < 730:
        n = round(days / 30.44)
        return f"about {n} months ago"
    n = round(days / 365.25)
    return f"about {n} years ago"


# Aggregations whose value is a number of things, so the number goes first ("2 ambulance calls").
_NUMBER_FIRST = {"count", "bed_days", "sum_of", "distinct_bnf_paragraphs", "excluded_count"}
# Windows that describe a state at the index date, not a look-back: nothing to add to the text.
_STATE_WINDOWS = {"", "on the index date"}
_SEX_WORDS = {"M": "male", "F": "female", "U": "not known"}
# How to say a yes/no feature is absent, by its first words.
_NEGATIONS = (
    ("lives ", "does not live "),
    ("has ", "does not have "),
    ("receiving ", "not receiving "),
    ("prescribed ", "not prescribed "),
    ("waiting ", "not waiting "),
)


def _window_suffix(spec: FeatureSpec, *, ever: str = " on record") -> str:
    text = spec.window_text
    if text == "ever":
        return ever
    if text in _STATE_WINDOWS:
        return ""
    return f", {text}"


def _is_missing(value: Any) -> bool:
    if value is None or value is pd.NA:
        return True
    try:
        return bool(np.isnan(value))
    except TypeError:
        return False


def _absent(description: str) -> str:
    for prefix, negated in _NEGATIONS:
        if description.startswith(prefix):
            return negated + description[len(prefix):]
    for article in ("a ", "an "):
        description = description.removeprefix(article)
    return f"no {description}"


def describe_value(spec: FeatureSpec, value: Any) -> str:
    """One person's value of one feature, in words a practitioner reads.

    >>> describe_value(FeatureSpec("n", "ambulance calls for a fall", "ambulance service",
    ...     window_days=365), 2)
    '2 ambulance calls for a fall, in the last 12 months'
    """
    if _is_missing(value):
        meaning = spec.missing_means
        if meaning and meaning != "not applicable" and not meaning.startswith("never missing"):
            return meaning
        return f"{spec.description}: not recorded"
    if spec.is_categorical:
        code = int(value)
        label = spec.categories[code] if 0 <= code < len(spec.categories) else f"category {code}"
        if spec.name == "sex" or spec.aggregation == "sex_code":
            label = _SEX_WORDS.get(label, label)
        return f"{spec.description}: {label}"
    value = float(value)
    if spec.kind == "binary" or spec.aggregation in ("any", "active_any"):
        window = _window_suffix(spec, ever="")
        return (spec.description if value >= 0.5 else _absent(spec.description)) + window
    if spec.aggregation == "days_since":
        if spec.description.startswith("days since "):
            return f"{spec.description[len('days since '):]} was {_ago(value)}"
        return f"{spec.description}: {_ago(value)}"
    if spec.aggregation in _NUMBER_FIRST:
        if value == 0:
            return f"no {spec.description}{_window_suffix(spec)}"
        text = _singular(spec.description) if value == 1 else spec.description
        return f"{_number(value)} {text}{_window_suffix(spec)}"
    if spec.unit == "share":
        return f"{spec.description}: {value:.0%}"
    if spec.aggregation == "trend":
        unit = f" {spec.unit}" if spec.unit else ""
        return f"{spec.description}: {value:+g}{unit}"
    unit = f" {spec.unit}" if spec.unit and spec.unit.split()[0] not in spec.description else ""
    return f"{spec.description}: {_number(value)}{unit}{_window_suffix(spec, ever='')}"


def _size_text(direction: str, points: float) -> str:
    verb = "raises" if direction == RAISES else "lowers"
    pts = abs(points) * 100
    size = f"{pts:.1f}" if pts >= 0.1 else "<0.1"
    return f"{verb} risk by {size} points"


def _spec_for(name: str, specs: Mapping[str, FeatureSpec]) -> FeatureSpec:
    spec = specs.get(name)
    if spec is None:
        return FeatureSpec(name=name, description=name.replace("_", " "), agency="other")
    return spec


# --------------------------------------------------------------------------------------------
# The explanation
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Explanation:
    """SHAP contributions for a set of people, with their reasons in plain language.

    ``contributions`` (log-odds) and ``probability_contributions`` (probability, 0-1) have one
    row per person (the index of the explained frame) and one column per feature.
    ``contributions.sum(axis=1) + expected_value == raw_margin`` (checked on construction).
    ``probability_contributions`` add up to ``probability - base_probability``.
    """

    contributions: pd.DataFrame
    expected_value: float
    raw_margin: pd.Series
    probability: pd.Series
    base_probability: float
    probability_contributions: pd.DataFrame
    values: pd.DataFrame
    specs: Mapping[str, FeatureSpec] = field(repr=False)
    backend: str = FASTEST_BACKEND
    additivity_gap: float = 0.0
    top_n: int = 3

    @property
    def feature_names(self) -> list[str]:
        return list(self.contributions.columns)

    def agencies(self) -> dict[str, str]:
        """Feature name -> agency."""
        return {name: _spec_for(name, self.specs).agency for name in self.feature_names}

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
            spec = _spec_for(name, self.specs)
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
        # Values repeat (counts, flags), so each (feature, value) is described once.
        cache: dict[tuple[int, float], str] = {}
        specs = [_spec_for(name, self.specs) for name in self.feature_names]
        texts = []
        for c, v in zip(cols.tolist(), values.tolist(), strict=True):
            key_cv = (c, None if np.isnan(v) else v)  # NaN never equals itself: key it as None
            text = cache.get(key_cv)
            if text is None:
                text = cache[key_cv] = describe_value(specs[c], v)
            texts.append(text)
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
                "text": texts,
            }
        )
        return frame, rows

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

    def reasons_text(
        self, top_n: int | None = None, *, direction: str | None = RAISES, group_windows: bool = True
    ) -> pd.Series:
        """One plain string per person (for a CSV column), reasons grouped by agency.

        E.g. "Ambulance service: 2 ambulance calls for a fall where they were not taken to
        hospital, in the last 12 months (raises risk by 4.2 points). Social care: ...". People with
        no reason in that direction get an empty string.
        """
        tidy, positions = self._reasons(top_n, direction=direction, group_windows=group_windows)
        out = pd.Series("", index=self.contributions.index, dtype=object, name="reasons")
        if tidy.empty:
            return out
        # ``reasons`` lists each person's reasons in rank order: one pass groups them by agency.
        by_row: dict[int, dict[str, list[str]]] = {}
        for row, agency, text, dirn, pts in zip(
            positions.tolist(), tidy["agency"].tolist(), tidy["text"].tolist(), tidy["direction"].tolist(),
            tidy["probability_contribution"].tolist(), strict=True,
        ):
            by_row.setdefault(row, {}).setdefault(agency, []).append(f"{text} ({_size_text(dirn, pts)})")
        out.iloc[list(by_row)] = [
            " ".join(f"{_agency_label(a)}: {'; '.join(items)}." for a, items in groups.items())
            for groups in by_row.values()
        ]
        return out

    def to_frame(self, prefix: str = "shap__") -> pd.DataFrame:
        """The full contribution vector per person (log-odds), to store beside the scores.

        Columns: ``shap__<feature>`` for each feature, plus ``shap__expected_value``.
        """
        frame = self.contributions.add_prefix(prefix)
        frame[f"{prefix}expected_value"] = self.expected_value
        return frame


def _agency_label(agency: str) -> str:
    return agency[:1].upper() + agency[1:]


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
    backend: str = "auto",
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
    features = _feature_frame(model, X)
    resolved = FASTEST_BACKEND if backend == "auto" else backend
    contributions, expected = compute_contributions(model, features, backend=backend)
    margin = _raw_margin(model, features) if len(features) else np.empty(0)
    gap = check_additivity(contributions, expected, margin, tolerance=tolerance)
    probability = _probability(model, features) if len(features) else np.empty(0)
    base = float(_margin_to_probability(model, np.array([expected]))[0]) if len(features) else float("nan")
    pcontrib = _probability_scale(model, contributions, expected, margin, probability, base)
    return Explanation(
        contributions=contributions,
        expected_value=expected,
        raw_margin=pd.Series(margin, index=features.index, name="raw_margin"),
        probability=pd.Series(probability, index=features.index, name="probability"),
        base_probability=base,
        probability_contributions=pcontrib,
        values=features,
        specs=spec_map,
        backend=resolved,
        additivity_gap=gap,
        top_n=top_n,
    )


def _probability_scale(
    model: Any,
    contributions: pd.DataFrame,
    expected: float,
    margin: np.ndarray,
    probability: np.ndarray,
    base: float,
) -> pd.DataFrame:
    """Scale each person's log-odds contributions by the secant slope of their probability.

    The secant slope (p - p0) / (margin - expected value) maps the log-odds path from the average
    person to this person onto the probability scale, so a person's probability contributions add
    up to ``probability - base_probability`` and keep the sign and ranking of the log-odds ones.
    For the sigmoid the slope is at most 0.25, so no contribution is inflated by cancellation.
    """
    if len(contributions) == 0:
        return contributions.copy()
    delta = margin - expected
    near = np.abs(delta) < 1e-9
    safe = np.where(near, 1.0, delta)
    slope = (probability - base) / safe
    if near.any():
        # The derivative at the expected value, where the secant is undefined.
        h = 1e-5
        d = (_margin_to_probability(model, np.array([expected + h]))[0] - _margin_to_probability(
            model, np.array([expected - h]))[0]) / (2 * h)
        slope = np.where(near, d, slope)
    return contributions.mul(slope, axis=0)


def explanation_summary(explanation: Explanation, *, max_features: int | None = None) -> pd.DataFrame:
    """Global importance table: feature, agency, description, mean |SHAP| (log-odds and points)."""
    imp = explanation.mean_abs()
    pimp = explanation.probability_contributions.abs().mean()
    rows = []
    for name in imp.index[: max_features or len(imp)]:
        spec = _spec_for(name, explanation.specs)
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


# --------------------------------------------------------------------------------------------
# Figures drawn by shap (kept here so no other module imports shap)
# --------------------------------------------------------------------------------------------


def _shap_explanation(
    explanation: Explanation, sample: Sequence[Any] | None = None, labels: Mapping[str, str] | None = None
) -> Any:
    shap = _import_shap()

    contributions = explanation.contributions
    values = explanation.values
    if sample is not None:
        contributions = contributions.loc[sample]
        values = values.loc[sample]
    labels = labels or {}
    names = [
        labels.get(n) or _short(_spec_for(n, explanation.specs).description) for n in explanation.feature_names
    ]
    return shap.Explanation(
        values=contributions.to_numpy(dtype=float),
        base_values=np.full(len(contributions), explanation.expected_value),
        data=values.to_numpy(dtype=float),
        feature_names=names,
    )


def _short(text: str, limit: int = 48) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def beeswarm_figure(
    explanation: Explanation,
    *,
    max_display: int = 15,
    max_points: int = 3000,
    seed: int = 0,
    labels: Mapping[str, str] | None = None,
) -> Any:
    """A matplotlib Figure: shap's beeswarm of the most important features (log-odds).

    ``labels`` maps feature names to the text shown (default: the registry description).
    """
    import matplotlib.pyplot as plt

    shap = _import_shap()

    sample = _sample_index(explanation, max_points, seed)
    rows = min(max_display, len(explanation.feature_names))
    fig = plt.figure(figsize=(9, 0.36 * rows + 1.4))
    with plt.rc_context({"font.size": 9}):
        shap.plots.beeswarm(
            _shap_explanation(explanation, sample, labels), max_display=max_display, show=False, plot_size=None,
            group_remaining_features=False,
        )
    for ax in fig.axes:
        ax.tick_params(labelsize=9)
        ax.yaxis.label.set_size(9)
    main = fig.axes[0]
    main.set_xlabel("Contribution to risk (log-odds); right of 0 raises risk", fontsize=9)
    main.set_title("Each person's contributions, for the most important features", fontsize=10, weight="bold")
    return fig


def dependence_figure(
    explanation: Explanation, feature: str, *, max_points: int = 3000, seed: int = 0, label: str | None = None
) -> Any:
    """A matplotlib Figure: shap's dependence (scatter) plot of one feature."""
    import matplotlib.pyplot as plt

    shap = _import_shap()

    if feature not in explanation.feature_names:
        raise parameter_error("feature", f"one of the model's features {explanation.feature_names}", feature)
    sample = _sample_index(explanation, max_points, seed)
    exp = _shap_explanation(explanation, sample)
    col = explanation.feature_names.index(feature)
    fig, ax = plt.subplots(figsize=(4.6, 3.4))
    shap.plots.scatter(exp[:, col], ax=ax, show=False, color="#1f6f8b", alpha=0.5, dot_size=10, hist=False)
    spec = _spec_for(feature, explanation.specs)
    if spec.is_categorical and spec.categories:
        ax.set_xticks(range(len(spec.categories)))
        ax.set_xticklabels([_short(c, 14) for c in spec.categories], rotation=30, ha="right")
    elif spec.kind == "binary":
        ax.set_xticks([0, 1])
        ax.set_xticklabels(["no", "yes"])
    unit = f" ({spec.unit})" if spec.unit and spec.kind == "numeric" else ""
    ax.set_xlabel(_short(label or spec.description, 56) + unit, fontsize=8)
    ax.set_ylabel("Contribution (log-odds)", fontsize=8)
    ax.tick_params(labelsize=8)
    ax.axhline(0, color="#888", lw=0.8, zorder=0)
    fig.tight_layout()
    return fig


def _sample_index(explanation: Explanation, max_points: int, seed: int) -> list[Any] | None:
    n = len(explanation.contributions)
    if n <= max_points:
        return None
    rng = np.random.default_rng(seed)
    pick = np.sort(rng.choice(n, size=max_points, replace=False))
    return list(explanation.contributions.index[pick])


__all__ = [
    "BACKENDS",
    "Explanation",
    "backends_agree",
    "beeswarm_figure",
    "check_additivity",
    "compute_contributions",
    "dependence_figure",
    "describe_value",
    "explain",
    "explanation_summary",
    "feature_names",
]

