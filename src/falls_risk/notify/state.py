"""The notification service's state: one SQLite file (``catalog.NOTIFY_STATE``).

SQLite through the standard library's ``sqlite3``: the state is a handful of small tables written
by one process a day, so one file with real transactions is all it needs; no ORM (SQLAlchemy)
and no server, and nothing to install.

Pseudonymised: people appear by ``person_key`` only. A notification keeps what it must show
besides the person (the events, risk, tier, reasons, what to consider); the person's identity is
read from the day's delivery when the outbox file is written, and lives only there.

Tables: ``deliveries`` (each delivery seen, by the hash of its files), ``notifications``,
``events`` (each notified event once, keyed by source, record and moment: the one-notification-
per-event rule), ``batches`` (outbox files, recorded before they are written so a re-run writes
the same file again instead of a second one), ``channel_deliveries`` and ``attempts`` (email and
webhook: every try, retried with back-off), ``acknowledgements``.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import sqlite3
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd

from falls_risk.catalog import NOTIFY_STATE
from falls_risk.errors import NotifyError

SCHEMA = """
CREATE TABLE IF NOT EXISTS deliveries (
    delivery_id TEXT PRIMARY KEY, first_received_at TEXT NOT NULL, last_received_at TEXT NOT NULL,
    extract_date TEXT, times_received INTEGER NOT NULL, counts TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS notifications (
    notification_id TEXT PRIMARY KEY, person_key TEXT NOT NULL, local_authority TEXT NOT NULL,
    created_at TEXT NOT NULL, first_event_date TEXT NOT NULL, last_event_date TEXT NOT NULL,
    risk_percent REAL, tier TEXT NOT NULL, scored INTEGER NOT NULL, reasons TEXT NOT NULL,
    suggested_actions TEXT NOT NULL, status TEXT NOT NULL, batch_id TEXT, sent_at TEXT);
CREATE INDEX IF NOT EXISTS notifications_person ON notifications (person_key, status);
CREATE TABLE IF NOT EXISTS events (
    event_key TEXT PRIMARY KEY, notification_id TEXT NOT NULL REFERENCES notifications,
    position INTEGER NOT NULL, source TEXT NOT NULL, record_id TEXT NOT NULL, event_date TEXT NOT NULL,
    rule TEXT NOT NULL, event TEXT NOT NULL, delivery_id TEXT NOT NULL, received_at TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS batches (
    batch_id TEXT PRIMARY KEY, local_authority TEXT NOT NULL, created_at TEXT NOT NULL, written_at TEXT);
CREATE TABLE IF NOT EXISTS channel_deliveries (
    notification_id TEXT NOT NULL REFERENCES notifications, channel TEXT NOT NULL, attempts INTEGER NOT NULL,
    next_attempt_at TEXT NOT NULL, delivered_at TEXT, last_error TEXT, PRIMARY KEY (notification_id, channel));
CREATE TABLE IF NOT EXISTS attempts (
    attempt_id INTEGER PRIMARY KEY AUTOINCREMENT, notification_id TEXT NOT NULL, channel TEXT NOT NULL,
    attempted_at TEXT NOT NULL, ok INTEGER NOT NULL, error TEXT);
CREATE TABLE IF NOT EXISTS acknowledgements (
    notification_id TEXT NOT NULL REFERENCES notifications, acknowledged_by TEXT NOT NULL, note TEXT,
    acknowledged_at TEXT NOT NULL);
"""

QUEUED, BATCHED, SENT, ACKNOWLEDGED = "queued", "batched", "sent", "acknowledged"
OPEN = (QUEUED, BATCHED, SENT)


def _iso(moment: datetime) -> str:
    return moment.isoformat(timespec="seconds")


def event_key(source: str, record_id: str, at: str) -> str:
    """One event: a record of a source at one of its moments (start, or end for a discharge)."""
    return hashlib.sha256(f"{source}\x1f{record_id}\x1f{at}".encode()).hexdigest()


def notification_id(first_event_key: str) -> str:
    """Stable: the same first event gives the same id on a re-run."""
    return "N-" + first_event_key[:12].upper()


@dataclass(frozen=True)
class Absorbed:
    new_notifications: int = 0
    merged: int = 0  # events added to an open notification (quiet period or the same record)
    merged_after_sending: int = 0
    repeated: int = 0  # events already recorded (a delivery sent twice, an update of a record)


class State:
    """An open state file. Use as a context manager (``open_state``)."""

    def __init__(self, con: sqlite3.Connection, path: Path) -> None:
        self.con = con
        self.path = path

    @contextlib.contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """All or nothing: an interrupted run leaves the state as it was before."""
        self.con.execute("BEGIN IMMEDIATE")
        try:
            yield self.con
        except BaseException:
            self.con.execute("ROLLBACK")
            raise
        self.con.execute("COMMIT")

    # -- deliveries and events -------------------------------------------------------------------
    def record_delivery(self, delivery_id: str, extract_date: date | None, counts: dict[str, int],
                        now: datetime) -> int:
        """Record the delivery; returns how many times it has now been received."""
        row = self.con.execute("SELECT times_received FROM deliveries WHERE delivery_id = ?", (delivery_id,)).fetchone()
        if row is None:
            self.con.execute(
                "INSERT INTO deliveries VALUES (?, ?, ?, ?, 1, ?)",
                (delivery_id, _iso(now), _iso(now), None if extract_date is None else extract_date.isoformat(),
                 json.dumps(counts, sort_keys=True)),
            )
            return 1
        self.con.execute(
            "UPDATE deliveries SET last_received_at = ?, times_received = times_received + 1 WHERE delivery_id = ?",
            (_iso(now), delivery_id),
        )
        return int(row[0]) + 1

    def absorb(self, notify: pd.DataFrame, delivery_id: str, *, quiet_days: int, now: datetime) -> Absorbed:
        """Turn the delivery's candidate events into notifications: one per person per event, merged
        into an open notification of the same person within the quiet period. Call inside a transaction."""
        new = merged = after = repeated = 0
        ordered = notify.sort_values(["event_date", "source", "row_number"], kind="stable")
        for e in ordered.itertuples(index=False):
            record_id = str(e.record_id) if pd.notna(e.record_id) else f"row {e.row_number}"
            key = event_key(e.source, record_id, e.at)
            if self.con.execute("SELECT 1 FROM events WHERE event_key = ?", (key,)).fetchone():
                repeated += 1
                continue
            day = pd.Timestamp(e.event_date).date()
            risk = None if pd.isna(e.risk_percent) else float(e.risk_percent)
            # The same record (an update, or the spell's discharge) goes to its notification if open;
            # otherwise another event of the person within the quiet period does.
            open_one = self.con.execute(
                f"""SELECT n.notification_id, n.status FROM events e JOIN notifications n USING (notification_id)
                    WHERE e.source = ? AND e.record_id = ? AND n.person_key = ?
                      AND n.status IN ({','.join('?' * len(OPEN))}) LIMIT 1""",
                (e.source, record_id, e.person_key, *OPEN),
            ).fetchone() or self.con.execute(
                f"""SELECT notification_id, status FROM notifications
                    WHERE person_key = ? AND status IN ({','.join('?' * len(OPEN))})
                      AND julianday(?) BETWEEN julianday(first_event_date) - ? AND julianday(last_event_date) + ?
                    ORDER BY last_event_date DESC LIMIT 1""",
                (e.person_key, *OPEN, day.isoformat(), quiet_days, quiet_days),
            ).fetchone()
            if open_one is None:
                nid = notification_id(key)
                self.con.execute(
                    "INSERT INTO notifications VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, NULL)",
                    (nid, e.person_key, e.local_authority, _iso(now), day.isoformat(), day.isoformat(), risk,
                     e.tier, int(bool(e.scored)), e.reasons, e.suggested_actions, QUEUED),
                )
                position = 0
                new += 1
            else:
                nid, status = open_one
                self.con.execute(
                    """UPDATE notifications SET first_event_date = min(first_event_date, ?),
                              last_event_date = max(last_event_date, ?) WHERE notification_id = ?""",
                    (day.isoformat(), day.isoformat(), nid),
                )
                if status == QUEUED:  # not sent yet: it goes out with the latest risk
                    self.con.execute(
                        "UPDATE notifications SET risk_percent = ?, tier = ?, scored = ?, reasons = ?, "
                        "suggested_actions = ? WHERE notification_id = ?",
                        (risk, e.tier, int(bool(e.scored)), e.reasons, e.suggested_actions, nid),
                    )
                position = self.con.execute(
                    "SELECT count(*) FROM events WHERE notification_id = ?", (nid,)).fetchone()[0]
                merged += 1
                after += status != QUEUED
            self.con.execute(
                "INSERT INTO events VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (key, nid, position, e.source, record_id, day.isoformat(), e.rule, e.event, delivery_id, _iso(now)),
            )
        return Absorbed(new, merged, after, repeated)

    # -- the daily cap and batches ---------------------------------------------------------------
    def batch_today(self, caps: dict[str, int], default_cap: int, now: datetime, stamp: str) -> dict[str, int]:
        """Put each team's queued notifications, highest risk first, into today's batch up to the
        team's daily cap (less what earlier runs today sent). Returns what still waits, per team.
        Call inside a transaction."""
        today = now.date().isoformat()
        waiting: dict[str, int] = {}
        teams = [r[0] for r in self.con.execute(
            "SELECT DISTINCT local_authority FROM notifications WHERE status = ? ORDER BY 1", (QUEUED,))]
        for team in teams:
            used = self.con.execute(
                "SELECT count(*) FROM notifications WHERE local_authority = ? AND batch_id IS NOT NULL "
                "AND substr(sent_at, 1, 10) = ?", (team, today)).fetchone()[0]
            room = max(caps.get(team, default_cap) - used, 0)
            queued = [r[0] for r in self.con.execute(
                """SELECT notification_id FROM notifications WHERE local_authority = ? AND status = ?
                   ORDER BY risk_percent IS NULL, risk_percent DESC, first_event_date, notification_id""",
                (team, QUEUED))]
            chosen, rest = queued[:room], queued[room:]
            if rest:
                waiting[team] = len(rest)
            if not chosen:
                continue
            batch, n = f"{stamp}-{_slug(team)}", 1
            while self.con.execute("SELECT 1 FROM batches WHERE batch_id = ? AND written_at IS NOT NULL",
                                   (batch,)).fetchone():  # a written batch never takes more
                n += 1
                batch = f"{stamp}-{_slug(team)}-{n}"
            self.con.execute("INSERT OR IGNORE INTO batches VALUES (?, ?, ?, NULL)", (batch, team, _iso(now)))
            self.con.executemany(
                "UPDATE notifications SET status = ?, batch_id = ?, sent_at = ? WHERE notification_id = ?",
                [(BATCHED, batch, _iso(now), n) for n in chosen],
            )
        return waiting

    def unwritten_batches(self) -> list[tuple[str, str]]:
        return [(b, t) for b, t in self.con.execute(
            "SELECT batch_id, local_authority FROM batches WHERE written_at IS NULL ORDER BY batch_id")]

    def batch_rows(self, batch_id: str) -> pd.DataFrame:
        """The batch's notifications with their events (``;``-joined in event order)."""
        notes = pd.read_sql_query(
            "SELECT * FROM notifications WHERE batch_id = ? ORDER BY risk_percent IS NULL, risk_percent DESC, "
            "notification_id", self.con, params=(batch_id,))
        events = pd.read_sql_query(
            "SELECT e.* FROM events e JOIN notifications n USING (notification_id) WHERE n.batch_id = ? "
            "ORDER BY e.notification_id, e.position", self.con, params=(batch_id,))
        joined = events.groupby("notification_id", sort=False).agg(
            source=("source", ";".join), record_id=("record_id", ";".join), event_date=("event_date", ";".join),
            event=("event", ";".join)).reset_index()
        return notes.merge(joined, on="notification_id", how="left")

    def mark_written(self, batch_id: str, channels: list[str], now: datetime) -> None:
        """The batch is in the outbox: its notifications are sent, and each other channel is due."""
        with self.transaction() as con:
            con.execute("UPDATE batches SET written_at = ? WHERE batch_id = ?", (_iso(now), batch_id))
            ids = [r[0] for r in con.execute(
                "SELECT notification_id FROM notifications WHERE batch_id = ? AND status = ?", (batch_id, BATCHED))]
            con.executemany("UPDATE notifications SET status = ? WHERE notification_id = ?", [(SENT, n) for n in ids])
            con.executemany(
                "INSERT OR IGNORE INTO channel_deliveries VALUES (?, ?, 0, ?, NULL, NULL)",
                [(n, ch, _iso(now)) for n in ids for ch in channels],
            )

    # -- email and webhooks: attempts with back-off ----------------------------------------------
    def due(self, now: datetime) -> list[tuple[str, str, str, str, int]]:
        """(notification_id, channel, batch_id, team, attempts) due for a try now."""
        return list(self.con.execute(
            """SELECT c.notification_id, c.channel, n.batch_id, n.local_authority, c.attempts
               FROM channel_deliveries c JOIN notifications n USING (notification_id)
               WHERE c.delivered_at IS NULL AND c.next_attempt_at <= ? ORDER BY n.batch_id, c.notification_id""",
            (_iso(now),)))

    def record_attempt(self, nid: str, channel: str, error: str | None, now: datetime, *, first_seconds: float,
                       max_seconds: float) -> None:
        with self.transaction() as con:
            con.execute("INSERT INTO attempts (notification_id, channel, attempted_at, ok, error) VALUES (?, ?, ?, ?, ?)",
                        (nid, channel, _iso(now), int(error is None), error))
            if error is None:
                con.execute("UPDATE channel_deliveries SET attempts = attempts + 1, delivered_at = ?, last_error = NULL "
                            "WHERE notification_id = ? AND channel = ?", (_iso(now), nid, channel))
                return
            attempts = con.execute("SELECT attempts FROM channel_deliveries WHERE notification_id = ? AND channel = ?",
                                   (nid, channel)).fetchone()[0] + 1
            wait = min(first_seconds * 2 ** (attempts - 1), max_seconds)
            con.execute(
                "UPDATE channel_deliveries SET attempts = ?, next_attempt_at = ?, last_error = ? "
                "WHERE notification_id = ? AND channel = ?",
                (attempts, _iso(now + timedelta(seconds=wait)), error, nid, channel))

    def pending_channels(self) -> pd.DataFrame:
        return pd.read_sql_query(
            """SELECT n.local_authority, c.channel, c.notification_id, c.attempts, c.next_attempt_at, c.last_error
               FROM channel_deliveries c JOIN notifications n USING (notification_id)
               WHERE c.delivered_at IS NULL ORDER BY 1, 2, 3""", self.con)

    # -- acknowledgements and status -------------------------------------------------------------
    def acknowledge(self, nid: str, by: str, note: str | None, now: datetime) -> str:
        with self.transaction() as con:
            row = con.execute("SELECT status FROM notifications WHERE notification_id = ?", (nid,)).fetchone()
            if row is None:
                raise NotifyError(
                    f"No notification {nid!r} in {self.path}. Copy the notification_id from the outbox CSV or "
                    "`falls-risk notify status`.")
            con.execute("INSERT INTO acknowledgements VALUES (?, ?, ?, ?)", (nid, by, note, _iso(now)))
            con.execute("UPDATE notifications SET status = ? WHERE notification_id = ?", (ACKNOWLEDGED, nid))
            return str(row[0])

    def status_counts(self, team: str | None = None) -> pd.DataFrame:
        where, params = ("WHERE local_authority = ?", (team,)) if team else ("", ())
        return pd.read_sql_query(
            f"SELECT local_authority, status, count(*) AS notifications FROM notifications {where} "
            "GROUP BY 1, 2 ORDER BY 1, 2", self.con, params=params)

    def notifications(self, team: str | None = None, limit: int | None = None) -> pd.DataFrame:
        where, params = ("WHERE n.local_authority = ?", [team]) if team else ("", [])
        tail = f" LIMIT {int(limit)}" if limit else ""
        return pd.read_sql_query(
            f"""SELECT n.notification_id, n.local_authority, n.first_event_date, n.last_event_date, n.tier,
                       n.risk_percent, n.status, count(e.event_key) AS events,
                       group_concat(e.event, ';') AS event
                FROM notifications n JOIN events e USING (notification_id) {where}
                GROUP BY n.notification_id ORDER BY n.last_event_date DESC, n.notification_id{tail}""",
            self.con, params=params)

    def table(self, name: str) -> pd.DataFrame:
        return pd.read_sql_query(f"SELECT * FROM {name}", self.con)

    def scalar(self, sql: str, *params: Any) -> Any:
        return self.con.execute(sql, params).fetchone()[0]


def _slug(team: str) -> str:
    return "".join(ch if ch.isalnum() else "_" for ch in team.lower()).strip("_") or "team"


@contextlib.contextmanager
def open_state(runs: Path, *, create: bool = True) -> Iterator[State]:
    """The state file of ``runs`` (created on first use), held exclusively by this process."""
    path = NOTIFY_STATE.path(runs)
    if not path.exists() and not create:
        raise NotifyError(f"{path} does not exist: no notification has been made from {runs} yet. "
                          "Run `falls-risk notify --extract DELIVERY --runs RUNS_DIR` first.")
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    with open(path.with_name(path.name + ".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one notify run at a time per runs folder
        fresh = not path.exists()
        con = sqlite3.connect(path, isolation_level=None, timeout=30)
        try:
            if fresh:
                os.chmod(path, 0o600)
            con.execute("PRAGMA foreign_keys = ON")
            con.execute("PRAGMA journal_mode = WAL")
            try:
                con.executescript(SCHEMA)
            except sqlite3.DatabaseError as exc:
                raise NotifyError(f"{path}: not a notification state file this version can read ({exc}). "
                                  "Restore it from backup.") from None
            yield State(con, path)
        finally:
            con.close()
            fcntl.flock(lock, fcntl.LOCK_UN)
