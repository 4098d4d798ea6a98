"""The commissioners' report: a summary dict collected from the run record, rendered by a template.

Public API: :func:`build_report` (the ``falls-risk report`` command), :func:`collect_summary`,
:func:`render_report`, and (from :mod:`falls_risk.disclosure`) the small-number suppression
:func:`suppress_count`; the report's parts, for notebooks: :func:`load_run_record`,
:func:`split_like_training`, :func:`agency_ablation`, :func:`subgroup_table`,
:func:`subgroup_columns`, :func:`capacity_table`, :func:`headline_capacity`,
:func:`importance_figure`, :func:`agency_figure`.
"""

from falls_risk.disclosure import metric_or_suppressed, suppress_count
from falls_risk.reporting.render import render_report

__all__ = [
    "agency_ablation",
    "agency_figure",
    "build_report",
    "capacity_table",
    "collect_summary",
    "headline_capacity",
    "importance_figure",
    "load_run_record",
    "metric_or_suppressed",
    "render_report",
    "split_like_training",
    "subgroup_columns",
    "subgroup_table",
    "suppress_count",
]

# name -> the module that defines it (imported on first use).
_LAZY = {
    "agency_ablation": "falls_risk.reporting.summary",
    "subgroup_table": "falls_risk.reporting.summary",
    "load_run_record": "falls_risk.reporting.report",
    "split_like_training": "falls_risk.reporting.report",
    "capacity_table": "falls_risk.reporting.capacity",
    "headline_capacity": "falls_risk.reporting.capacity",
    "importance_figure": "falls_risk.reporting.plots",
    "agency_figure": "falls_risk.reporting.plots",
    "subgroup_columns": "falls_risk.modelling.fairness",
}


def __getattr__(name: str):  # lazy: importing the package must not pull in matplotlib or mlflow
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(_LAZY[name]), name)
    if name == "build_report":
        from falls_risk.reporting.report import build_report

        return build_report
    if name == "collect_summary":
        from falls_risk.reporting.summary import collect_summary

        return collect_summary
    raise AttributeError(name)
