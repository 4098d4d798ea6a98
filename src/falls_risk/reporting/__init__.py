"""The commissioners' report: a summary dict collected from the run record, rendered by a template.

Public API: :func:`build_report` (the ``falls-risk report`` command), :func:`collect_summary`,
:func:`render_report`, and (from :mod:`falls_risk.disclosure`) the small-number suppression
:func:`suppress_count`.
"""

from falls_risk.disclosure import metric_or_suppressed, suppress_count
from falls_risk.reporting.render import render_report

__all__ = ["build_report", "collect_summary", "metric_or_suppressed", "render_report", "suppress_count"]


def __getattr__(name: str):  # lazy: importing the package must not pull in matplotlib or mlflow
    if name == "build_report":
        from falls_risk.reporting.report import build_report

        return build_report
    if name == "collect_summary":
        from falls_risk.reporting.summary import collect_summary

        return collect_summary
    raise AttributeError(name)
