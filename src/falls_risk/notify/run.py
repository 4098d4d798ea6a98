"""``falls-risk notify``: one delivery of new records -> notifications to the right teams.

A list of stage calls, like the monthly run:

1. ``latest.latest_run``: each person's risk, tier and reasons from the latest monthly run.
2. ``scoring.work.working_folder``: a private working folder (0700) for the delivery, removed
   afterwards; a killed run's folder is swept by the next run.
3. ``delivery.ingest_delivery``: validated and quarantined exactly like ``ingest``.
4. ``link_new.link_delivery``: linked to the spine with the champion's recorded Splink model
   (NHS numbers first), never retrained.
5. ``candidates``: the notifying events, joined to risk and team.
6. ``state``: in one transaction, the delivery's events become notifications (one per person per
   event; the quiet period merges) and each team's daily batch is chosen, highest risk first up to
   its cap; the rest waits, counted.
7. ``channels``: each batch is written to the team's outbox, then sent by email or webhook where
   configured; failures are retried with back-off by later runs.
"""

from __future__ import annotations

import hashlib
import json
import time
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path

import pandas as pd

from falls_risk.catalog import INGESTED, NOTIFY_OUTBOX_DIR
from falls_risk.linkage.secret import load_secret
from falls_risk.notify import channels
from falls_risk.notify.candidates import candidates, delivery_events, person_teams, rules_of
from falls_risk.notify.config import NotifyConfig
from falls_risk.notify.delivery import ingest_delivery
from falls_risk.notify.latest import explain_missing, latest_run, linkage_model_into, load_run_model
from falls_risk.notify.link_new import link_delivery
from falls_risk.notify.state import Absorbed, State, open_state
from falls_risk.progress import console
from falls_risk.scoring.outputs import identities
from falls_risk.scoring.work import working_folder

WORK_NAME = "notify"


@dataclass(frozen=True)
class NotifyRequest:
    extract_dir: Path
    runs: Path
    config: NotifyConfig = field(default_factory=NotifyConfig)
    mapping: Path | None = None
    linkage_model: Path | None = None
    tracking_uri: str | None = None
    key_file: Path | None = None
    now: datetime | None = None  # the clock (tests move it on to pass a back-off)
    # The day the delivery was taken (default: today): records dated after it are quarantined.
    extract_date: date | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "extract_dir", Path(self.extract_dir))
        object.__setattr__(self, "runs", Path(self.runs).absolute())

    @property
    def outbox(self) -> Path:
        return Path(self.config.outbox_dir) if self.config.outbox_dir else NOTIFY_OUTBOX_DIR.path(self.runs)


@dataclass
class NotifyResult:
    month: str
    delivery_id: str
    times_received: int
    counts: dict[str, int]
    absorbed: Absorbed
    waiting: dict[str, int]
    written: list[Path]
    sent: dict[str, int]
    failed: dict[str, int]
    pending: int
    warnings: list[str] = field(default_factory=list)
    seconds: dict[str, float] = field(default_factory=dict)  # per stage, for bench/bench_notify.py

    def lines(self) -> list[str]:
        c, a = self.counts, self.absorbed
        again = f" (received {self.times_received} times)" if self.times_received > 1 else ""
        return [
            (f"Delivery {self.delivery_id[:12]}{again}: {c.get('records', 0):,} records accepted, "
            f"{c.get('quarantined', 0):,} quarantined, {c.get('unlinked', 0):,} not linked to anyone in the spine."),
            (f"{c.get('events', 0):,} notifying events: {c.get('scored_in_tiers', 0):,} of people in the notified "
            f"tiers, {c.get('not_yet_scored', 0):,} fall-type events of people not yet scored (run of {self.month}); "
            f"{c.get('below_notified_tiers', 0):,} below the notified tiers, {c.get('not_scored_not_fall', 0):,} "
            f"not scored and not a fall, {c.get('not_scored_under_age', 0):,} not scored and under age, "
            f"{c.get('weak_links', 0):,} weakly linked: not notified."),
            (f"{a.new_notifications:,} new notifications, {a.merged:,} events merged into open ones "
            f"({a.merged_after_sending:,} into ones already sent), {a.repeated:,} already notified."),
            f"Outbox: {len(self.written)} file(s) written; waiting for the daily cap: "
            + (", ".join(f"{t} {n:,}" for t, n in sorted(self.waiting.items())) or "none") + ".",
            "Channels: " + (", ".join(f"{ch} {n:,} sent" for ch, n in sorted(self.sent.items())) or "nothing to send")
            + ("; failed (retried later): " + ", ".join(f"{ch} {n:,}" for ch, n in sorted(self.failed.items()))
               if self.failed else "") + f"; {self.pending:,} waiting for a retry.",
        ]


def _delivery_id(hashes: dict[str, str]) -> str:
    return hashlib.sha256(json.dumps(hashes, sort_keys=True).encode()).hexdigest()


def write_batches(state: State, request: NotifyRequest, people: pd.DataFrame | None, now: datetime,
                  warnings: list[str]) -> list[Path]:
    """Write every batch not yet in the outbox (a killed run's included), then mark it sent."""
    written = []
    for batch, team in state.unwritten_batches():
        rows = state.batch_rows(batch)
        if people is not None:
            rows = rows.merge(people, on="person_key", how="left")
        for column in ("nhs_number", "forename", "surname", "date_of_birth", "address_line", "postcode"):
            if column not in rows.columns:
                rows[column] = ""
            rows[column] = rows[column].fillna("").astype(str)
        missing = int((rows["nhs_number"] == "").sum())
        if missing:
            warnings.append(f"{missing} notification(s) of {team} name nobody: the person is not in this "
                            "delivery's population spine (moved away or died?).")
        rows["risk_percent"] = rows["risk_percent"].map(lambda r: "" if pd.isna(r) else f"{r:.1f}")
        rows["status"] = "new"
        written.append(channels.write_outbox(request.outbox, team, batch, rows))
        team_config = request.config.teams.get(team)
        wanted = [] if team_config is None else [
            name for name, on in ((channels.EMAIL, team_config.email), (channels.WEBHOOK, team_config.webhook)) if on]
        state.mark_written(batch, wanted, now)
    return written


def send_due(state: State, request: NotifyRequest, now: datetime) -> tuple[dict[str, int], dict[str, int]]:
    """Try every email and webhook that is due (new, or a failed one whose back-off has passed)."""
    sent: dict[str, int] = {}
    failed: dict[str, int] = {}
    retry = request.config.retry
    for nid, channel, batch, team, _attempts in state.due(now):
        row = channels.read_outbox_row(request.outbox, team, batch, nid)
        team_config = request.config.teams.get(team)
        if row is None:
            error = f"the outbox file of batch {batch} is missing; restore it to send this notification"
        elif channel == channels.EMAIL and team_config and team_config.email and request.config.smtp:
            error = channels.send_email(request.config.smtp, team_config.email.to, row)
        elif channel == channels.WEBHOOK and team_config and team_config.webhook:
            error = channels.send_webhook(team_config.webhook, row)
        else:
            error = f"{channel} is no longer configured for {team}; configure it again to send"
        state.record_attempt(nid, channel, error, now, first_seconds=retry.first_seconds, max_seconds=retry.max_seconds)
        (failed if error else sent)[channel] = (failed if error else sent).get(channel, 0) + 1
    return sent, failed


def _registered(run, request: NotifyRequest):
    """The model the latest run used, from MLflow. With --linkage-model and no --tracking-uri, MLflow is
    not asked (None): notify links and notifies, and unexplained people's reasons stay empty."""
    if request.linkage_model is not None and request.tracking_uri is None:
        return None
    return load_run_model(run, request.tracking_uri)


class _Clock:
    def __init__(self) -> None:
        self.seconds: dict[str, float] = {}

    @contextmanager
    def stage(self, name: str):
        start = time.perf_counter()
        try:
            yield
        finally:
            self.seconds[name] = round(self.seconds.get(name, 0.0) + time.perf_counter() - start, 3)


def run_notify(request: NotifyRequest, *, progress: bool = False) -> NotifyResult:
    """Notify the teams of one delivery's events (see the module docstring)."""
    now = request.now or datetime.now(UTC).replace(tzinfo=None)
    config = request.config
    secret = load_secret(request.key_file)
    run = latest_run(request.runs, secret)
    warnings: list[str] = []
    clock = _Clock()
    with open_state(request.runs) as state, working_folder(request.runs, WORK_NAME) as ws:
        with clock.stage("ingest"):
            extract = ingest_delivery(request.extract_dir, ws, request.mapping,
                                      request.extract_date or min(now.date(), date.today()))
        with clock.stage("linkage"):
            registered = _registered(run, request)
            model_path = linkage_model_into(ws, run, request.linkage_model, registered)
            linkage = link_delivery(ws, model_path, config.linkage, secret)
        with clock.stage("candidates"):
            events = delivery_events(ws, rules_of(config.events))
            found = candidates(events, run.scores, person_teams(ws), tiers=config.tiers, min_age=config.min_age,
                               min_match_probability=config.min_match_probability)
            # The run explains its flagged tier only: explain the other notified people here.
            unexplained = found.notify.loc[found.notify["scored"] & (found.notify["reasons"] == ""), "person_key"]
            if len(unexplained):
                reasons = explain_missing(run, unexplained, registered)
                found.notify["reasons"] = [reasons.get(k, r) if r == "" else r for k, r in
                                           zip(found.notify["person_key"], found.notify["reasons"], strict=True)]
        counts = dict(found.counts)
        counts["records"] = sum(v["accepted"] for k, v in extract.counts().items() if k != "population")
        counts["quarantined"] = sum(v["quarantined"] for v in extract.counts().values())
        counts["unlinked"] = sum(s.get("unlinked", 0) for s in linkage.sources.values())
        delivery_id = _delivery_id(extract.input_hashes())
        stamp = f"{now:%Y%m%dT%H%M%S}-{delivery_id[:6]}"  # one batch name per run and delivery
        with clock.stage("state"), state.transaction():
            times = state.record_delivery(delivery_id, extract.extract_date, counts, now)
            absorbed = state.absorb(found.notify, delivery_id, quiet_days=config.quiet_period_days, now=now)
            caps = {team: config.cap(team) for team in config.teams}
            waiting = state.batch_today(caps, config.daily_cap, now, stamp)
        with clock.stage("outbox"):
            people = identities(INGESTED.path(ws, source="population"), secret)
            written = write_batches(state, request, people, now, warnings)
        with clock.stage("channels"):
            sent, failed = send_due(state, request, now)
        pending = int(state.scalar("SELECT count(*) FROM channel_deliveries WHERE delivered_at IS NULL"))
    result = NotifyResult(run.month, delivery_id, times, counts, absorbed, waiting, written, sent, failed, pending,
                          warnings, clock.seconds)
    if progress:
        for line in result.lines():
            console.print(line, highlight=False, soft_wrap=True)
        for warning in warnings:
            console.print(f"[bold yellow]Warning:[/] {warning}", highlight=False, soft_wrap=True)
    return result
