"""``falls-risk notify ack`` and ``notify status``: record that a team has seen a notification,
and show what was notified, what waits for the daily cap and which channels wait for a retry.

Status shows notification ids, teams, dates, events, tiers and risk: no names or NHS numbers
(those are in the team's outbox only).
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

from rich.table import Table

from falls_risk.notify.state import open_state
from falls_risk.progress import console


def acknowledge(runs: Path, notification_id: str, by: str, note: str | None = None) -> str:
    """Record the acknowledgement; returns the notification's status before it."""
    with open_state(runs, create=False) as state:
        before = state.acknowledge(notification_id, by, note, datetime.now(UTC).replace(tzinfo=None))
    console.print(f"Acknowledged {notification_id} by {by} (it was {before}).", highlight=False)
    return before


def print_status(runs: Path, team: str | None = None, limit: int = 20) -> None:
    with open_state(runs, create=False) as state:
        counts = state.status_counts(team)
        recent = state.notifications(team, limit=limit)
        pending = state.pending_channels()
    if team:
        pending = pending[pending["local_authority"] == team]
    table = Table(title="Notifications by team and status")
    for column in ("team", "status", "notifications"):
        table.add_column(column, justify="right" if column == "notifications" else "left")
    for r in counts.itertuples(index=False):
        table.add_row(r.local_authority, r.status, f"{r.notifications:,}")
    console.print(table)
    latest = Table(title=f"Latest {min(limit, len(recent))} notifications")
    for column in ("notification_id", "team", "last event", "event", "tier", "risk %", "status"):
        latest.add_column(column, no_wrap=column in ("notification_id", "last event"))
    for r in recent.itertuples(index=False):
        risk = "" if r.risk_percent != r.risk_percent or r.risk_percent is None else f"{r.risk_percent:.1f}"
        first = r.event.split(";")[0] + (f" (+{r.events - 1} more)" if r.events > 1 else "")
        latest.add_row(r.notification_id, r.local_authority, r.last_event_date, first, r.tier, risk, r.status)
    console.print(latest)
    if len(pending):
        waiting = Table(title="Email and webhook deliveries waiting for a retry")
        for column in ("team", "channel", "notification_id", "attempts", "next try", "last error"):
            waiting.add_column(column)
        for r in pending.itertuples(index=False):
            waiting.add_row(r.local_authority, r.channel, r.notification_id, str(r.attempts), r.next_attempt_at,
                            r.last_error or "")
        console.print(waiting)
    else:
        console.print("No email or webhook delivery is waiting for a retry.")
