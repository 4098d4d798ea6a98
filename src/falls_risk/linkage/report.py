"""The linkage quality report: a summary dict rendered by a Jinja2 template.

Charts are Vega-Lite specs (Splink's own for the model; ours for the probability distribution)
drawn by the Vega libraries that ship inside Splink, written inline: the report opens with no
network. No record values appear in it: counts, rates, parameters only; counts of 1-4 show as
``<5``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any

import pandas as pd

from falls_risk import templating
from falls_risk.catalog import LINKAGE_REPORT
from falls_risk.config import LinkageConfig
from falls_risk.disclosure import SMALL_COUNT_LIMIT, share_or_suppressed, suppress_count
from falls_risk.linkage.summary import LinkageSummary
from falls_risk.linkage.vega import script_json, vega_libraries
from falls_risk.workspace import Workspace

if TYPE_CHECKING:
    from falls_risk.linkage.engine import SplinkModel

TEMPLATE = "linkage.html.j2"


def source_rows(summary: LinkageSummary) -> list[dict[str, Any]]:
    rows = []
    for source, c in summary.sources.items():
        linked = c["nhs_number"] + c["probabilistic"]
        rows.append(
            {
                "source": source,
                "rows": suppress_count(c["rows"]),
                "nhs_number": suppress_count(c["nhs_number"]),
                "probabilistic": suppress_count(c["probabilistic"]),
                "unlinked": suppress_count(c["unlinked"]),
                "link_rate": share_or_suppressed(linked, c["rows"]),
                "reasons": ", ".join(f"{r}: {suppress_count(n)}" for r, n in c["unlinked_reasons"].items())
                or "-",
                "expected_false": f"{c['expected_false_links']:.1f}",
                "expected_missed": f"{c['expected_missed_links']:.1f}",
                "nhs_refused": suppress_count(c.get("nhs_number_refused", 0)),
                "nhs_contradicted": suppress_count(c.get("nhs_number_contradicted", 0)),
            }
        )
    return rows


def probability_chart(bins: pd.DataFrame) -> dict[str, Any]:
    """One histogram per source of best-candidate probabilities, records on a (symmetric) log scale (almost
    every record sits in the last bin: on a linear scale the other bins vanish); bins with fewer
    than 5 rows left out. Sources are stacked as rows, not colours, so bars never hide each other
    and the axis labels never overlap."""
    shown = bins[bins["rows"] >= SMALL_COUNT_LIMIT]
    sources = sorted(shown["source"].unique())
    return {
        "$schema": "https://vega.github.io/schema/vega-lite/v5.json",
        "description": "Best candidate match probability of records linked probabilistically or not, per source",
        "data": {
            "values": [
                {"source": s, "bin_start": float(b), "bin_end": float(b) + 0.05, "rows": int(n)}
                for s, b, n in shown[["source", "bin", "rows"]].itertuples(index=False)
            ]
        },
        "facet": {"row": {"field": "source", "type": "nominal", "title": None, "sort": sources,
                          "header": {"labelAngle": 0, "labelAlign": "left", "labelFontSize": 12}}},
        "spec": {
            "width": 560,
            "height": 70,
            "mark": {"type": "bar", "color": "#3b6ea8"},
            "encoding": {
                "x": {
                    "field": "bin_start",
                    "type": "quantitative",
                    "bin": {"binned": True, "step": 0.05},
                    "title": "match probability of the best candidate",
                    "scale": {"domain": [0, 1]},
                    "axis": {"values": [0, 0.2, 0.4, 0.6, 0.8, 1.0], "format": ".1f", "labelAngle": 0},
                },
                "x2": {"field": "bin_end"},
                "y": {"field": "rows", "type": "quantitative", "title": "records (log)",
                      "scale": {"type": "symlog"},
                      "axis": {"values": [0, 10, 100, 1000, 10_000, 100_000, 1_000_000], "format": ",d"}},
                "tooltip": [{"field": "source"}, {"field": "bin_start", "title": "from"}, {"field": "rows"}],
            },
        },
        "resolve": {"scale": {"y": "independent"}},
    }


def parameter_rows(model: SplinkModel | None) -> list[dict[str, Any]]:
    if model is None:
        return []
    table = model.parameters()
    table = table[table["comparison_name"] != "probability_two_random_records_match"]
    rows = []
    for r in table.itertuples(index=False):
        rows.append(
            {
                "comparison": r.comparison_name,
                "level": r.label_for_charts,
                "m": _fmt_prob(r.m_probability),
                "u": _fmt_prob(r.u_probability),
                "weight": "-"
                if r.is_null_level or not _finite(r.log2_bayes_factor)
                else f"{r.log2_bayes_factor:+.2f}",
                "tf": "yes" if r.has_tf_adjustments else "",
                "untrained": (not r.is_null_level)
                and isinstance(r.m_probability_description, str)
                and "not" in r.m_probability_description.lower(),
            }
        )
    return rows


def _finite(x: Any) -> bool:
    try:
        return x is not None and math.isfinite(float(x))
    except (TypeError, ValueError):
        return False


def _fmt_prob(x: Any) -> str:
    return f"{float(x):.4g}" if _finite(x) else "-"


def write_report(
    ws: Workspace,
    summary: LinkageSummary,
    model: SplinkModel | None,
    probability_bins: pd.DataFrame,
    config: LinkageConfig,
) -> None:
    charts = {"probability": probability_chart(probability_bins)}
    if model is not None:
        charts.update(model.chart_specs())
    total = {
        k: sum(c[k] for c in summary.sources.values())
        for k in ("rows", "nhs_number", "probabilistic", "unlinked")
    }
    context = {
        "summary": summary,
        "config": config,
        "sources": source_rows(summary),
        "total": {k: suppress_count(v) for k, v in total.items()},
        "spine_rows_without_nhs": suppress_count(summary.spine_rows_without_nhs_number),
        "spine_rows_left_out": suppress_count(summary.spine_rows_left_out),
        "total_rate": share_or_suppressed(total["nhs_number"] + total["probabilistic"], total["rows"]),
        "expected_false": sum(c["expected_false_links"] for c in summary.sources.values()),
        "expected_missed": sum(c["expected_missed_links"] for c in summary.sources.values()),
        "parameters": parameter_rows(model),
        "charts": {name: script_json(spec) for name, spec in charts.items()},
        "libraries": vega_libraries(),
    }
    LINKAGE_REPORT.save(ws, templating.render(TEMPLATE, context))
