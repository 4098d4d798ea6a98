"""Monitoring as outcomes mature: every past monthly run against the latest extract's outcomes.

``run_monitor(MonitorRequest)`` writes monitor.json and monitor.html (``catalog.MONITOR_JSON``,
``catalog.MONITOR_PAGE``) and logs complete months' realised metrics to the model version.
"""

from falls_risk.monitor.run import MonitorRequest, MonitorResult, run_monitor
from falls_risk.progress import console


def print_result(result: MonitorResult) -> None:
    for line in result.lines():
        console.print(line, highlight=False, soft_wrap=True)
    for warning in result.warnings:
        console.print(f"[bold yellow]Warning:[/] {warning}", highlight=False, soft_wrap=True)


__all__ = ["MonitorRequest", "MonitorResult", "print_result", "run_monitor"]
