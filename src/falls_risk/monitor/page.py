"""monitor.json (every number, for audit and tools) and monitor.html (the page people read).

The page goes through the project's one template environment: counts of 1-4 show as <5 and a
metric resting on such a count is withheld (``disclosure``), so it can be shared with
commissioners; monitor.json keeps the exact counts for analysts.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from falls_risk.catalog import MONITOR_JSON, MONITOR_PAGE
from falls_risk.disclosure import is_small
from falls_risk.templating import render


def _interval(row: dict[str, Any], name: str, *counts: Any) -> str:
    value = row.get(name)
    if value is None or any(is_small(c) for c in counts):
        return "–"
    low, high = row.get(f"{name}_ci_low"), row.get(f"{name}_ci_high")
    if low is None or high is None:
        return f"{value:.3f}"
    return f"{value:.3f} ({low:.3f}–{high:.3f})"


def page_context(data: dict[str, Any]) -> dict[str, Any]:
    months = []
    for m in data["months"]:
        events = m.get("n_events", 0)
        months.append(m | {
            "auroc_text": _interval(m, "auroc", events),
            "auprc_text": _interval(m, "auprc", events),
            "oe_text": _interval(m, "observed_expected", events),
            "slope_text": _interval(m, "calibration_slope", events),
            "ppv_text": _interval(m.get("flagged", {}), "ppv", m.get("flagged", {}).get("events")),
            "sensitivity_text": _interval(m.get("flagged", {}), "sensitivity", m.get("flagged", {}).get("events")),
            "subgroup_rows": [g | {"auroc_text": _interval(g, "auroc", g["events"]),
                                   "oe_text": _interval(g, "observed_expected", g["events"])}
                              for g in m.get("subgroups", [])],
            "tier_rows": [t | {"oe_text": _interval(t, "observed_expected", t["events"])} for t in m.get("by_tier", [])],
            "action_rows": [a | {"rate_text": _interval(a, "rate", a["events"])} for a in m.get("by_action", [])],
        })
    return {"data": data, "months": months}


def write_monitor(out: Path, data: dict[str, Any]) -> tuple[Path, Path]:
    json_path = MONITOR_JSON.save(out, data)
    html_path = MONITOR_PAGE.save(out, render("monitor.html.j2", page_context(data)))
    return json_path, html_path
