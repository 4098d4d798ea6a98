"""Where notifications go: the outbox (always), email (SMTP) and webhooks (HTTP POST of JSON).

The outbox is the notification's record on disk, whatever else is configured: one CSV per team
per batch (``catalog.NOTIFY_OUTBOX``, mode 0600 in folders of mode 0700, written atomically by
the catalog's private CSV writer). Email and webhooks send what the outbox holds, one message per
notification, so a retry on a later run sends exactly what the team's outbox shows.

Each send returns None or the reason it failed, in words for the status report; it never raises
for a channel being down.
"""

from __future__ import annotations

import json
import os
import re
import smtplib
import urllib.error
import urllib.request
from email.message import EmailMessage
from pathlib import Path

import pandas as pd

from falls_risk.catalog import NOTIFY_OUTBOX
from falls_risk.notify.config import SmtpConfig, WebhookConfig

OUTBOX_COLUMNS = (
    "notification_id", "local_authority", "nhs_number", "forename", "surname", "date_of_birth", "address_line",
    "postcode", "source", "record_id", "event_date", "event", "risk_percent", "tier", "reasons",
    "suggested_actions", "status",
)
EMAIL, WEBHOOK = "email", "webhook"


def team_folder(team: str) -> str:
    """A team's folder name: its local authority, without path separators."""
    return re.sub(r"[\\/\x00]", "_", team).strip() or "unknown"


def write_outbox(outbox: Path, team: str, batch: str, rows: pd.DataFrame) -> Path:
    """Write one batch of a team's notifications (OUTBOX_COLUMNS), readable by its owner only."""
    folder = NOTIFY_OUTBOX.path(outbox, local_authority=team_folder(team), batch=batch).parent
    outbox.mkdir(parents=True, exist_ok=True, mode=0o700)
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    return NOTIFY_OUTBOX.save(outbox, rows[list(OUTBOX_COLUMNS)], local_authority=team_folder(team), batch=batch)


def read_outbox_row(outbox: Path, team: str, batch: str, notification_id: str) -> dict[str, str] | None:
    if not NOTIFY_OUTBOX.exists(outbox, local_authority=team_folder(team), batch=batch):
        return None
    rows = NOTIFY_OUTBOX.load(outbox, local_authority=team_folder(team), batch=batch)
    hit = rows[rows["notification_id"] == notification_id]
    return None if hit.empty else hit.iloc[0].to_dict()


def _events(row: dict[str, str]) -> list[dict[str, str]]:
    parts = [row.get(c, "").split(";") for c in ("source", "record_id", "event_date", "event")]
    return [dict(zip(("source", "record_id", "event_date", "event"), values, strict=True))
            for values in zip(*parts, strict=True)]


def payload(row: dict[str, str]) -> dict[str, object]:
    """The JSON a webhook receives: the outbox row, with its events as a list."""
    person = {k: row.get(k, "") for k in ("nhs_number", "forename", "surname", "date_of_birth", "address_line",
                                            "postcode")}
    return {
        "notification_id": row["notification_id"], "local_authority": row["local_authority"], "person": person,
        "events": _events(row), "risk_percent": float(row["risk_percent"]) if row.get("risk_percent") else None,
        "tier": row.get("tier", ""), "reasons": row.get("reasons", ""),
        "suggested_actions": row.get("suggested_actions", ""), "status": row.get("status", ""),
    }


def email_text(row: dict[str, str]) -> tuple[str, str]:
    """Subject and body of the email for one notification."""
    risk = f"{row['risk_percent']}% ({row['tier']} tier)" if row.get("risk_percent") else row.get("tier", "")
    events = "\n".join(f"  - {e['event_date']}: {e['event']} ({e['source']} record {e['record_id']})"
                       for e in _events(row))
    body = (
        f"Notification {row['notification_id']} for the {row['local_authority']} team\n\n"
        f"Person: {row['forename']} {row['surname']}, born {row['date_of_birth']}, NHS number {row['nhs_number']}\n"
        f"Address: {row.get('address_line', '')}, {row.get('postcode', '')}\n\n"
        f"What happened:\n{events}\n\n"
        f"Current risk of a fall-related emergency admission: {risk}\n"
        f"Why: {row.get('reasons') or 'no reasons recorded for this person in the latest monthly run'}\n"
        f"To consider: {row.get('suggested_actions') or '-'}\n\n"
        f"Record that you have seen it: falls-risk notify ack {row['notification_id']} --by YOUR_NAME\n"
    )
    first = _events(row)[0]["event"] if _events(row) else "event"
    return f"[falls-risk] {row['local_authority']}: {first} ({row['notification_id']})", body


def send_email(smtp: SmtpConfig, to: list[str], row: dict[str, str]) -> str | None:
    subject, body = email_text(row)
    message = EmailMessage()
    message["From"], message["To"], message["Subject"] = smtp.sender, ", ".join(to), subject
    message["X-Falls-Risk-Notification"] = row["notification_id"]
    message.set_content(body)
    try:
        with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout_seconds) as server:
            if smtp.starttls:
                server.starttls()
            if smtp.username:
                server.login(smtp.username, os.environ.get(smtp.password_env or "", ""))
            server.send_message(message)
    except (OSError, smtplib.SMTPException) as exc:
        return f"SMTP {smtp.host}:{smtp.port}: {type(exc).__name__}: {exc}"
    return None


def _header(value: str) -> str:
    return re.sub(r"\$\{(\w+)\}", lambda m: os.environ.get(m.group(1), ""), value)


def send_webhook(hook: WebhookConfig, row: dict[str, str]) -> str | None:
    body = json.dumps(payload(row)).encode("utf-8")
    headers = {"Content-Type": "application/json", **{k: _header(v) for k, v in hook.headers.items()}}
    request = urllib.request.Request(hook.url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=hook.timeout_seconds) as response:
            if not 200 <= response.status < 300:
                return f"webhook {hook.url}: HTTP {response.status}"
    except urllib.error.HTTPError as exc:
        return f"webhook {hook.url}: HTTP {exc.code} {exc.reason}"
    except (TimeoutError, urllib.error.URLError, OSError) as exc:
        return f"webhook {hook.url}: {getattr(exc, 'reason', exc)}"
    return None
