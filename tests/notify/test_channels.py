"""Email and webhook delivery against real servers on 127.0.0.1, each down and then recovering;
the outbox is always written, mode 0600."""

from __future__ import annotations

import json
import os
import socket
import stat
import threading
from datetime import datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pandas as pd
import pytest

from falls_risk.notify import NotifyConfig
from falls_risk.notify.channels import OUTBOX_COLUMNS
from falls_risk.notify.run import NotifyRequest, send_due, write_batches
from falls_risk.notify.state import open_state
from tests.notify.helpers import candidate, frame

NOW = datetime(2025, 12, 2, 7, 0)

PEOPLE = pd.DataFrame({
    "person_key": ["p1", "p2"], "nhs_number": ["9434765919", "9434765870"], "forename": ["Mair", "Tom"],
    "surname": ["Pritchard", "Evans"], "date_of_birth": ["1941-03-02", "1938-11-30"],
    "address_line": ["3 High Street", "9 Castle Road"], "postcode": ["CF10 1AA", "CF11 2BB"],
})


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _notify_once(tmp_path, config: NotifyConfig, now: datetime, *, new: bool):
    """A day's notifications from two events (as ``run_notify`` does after linking), then the due sends."""
    request = NotifyRequest(tmp_path / "delivery", tmp_path / "runs", config=config, now=now)
    with open_state(request.runs) as state:
        if new:
            with state.transaction():
                state.absorb(frame(candidate("p1", "2025-12-01", record="E1", risk=31.5),
                                   candidate("p2", "2025-12-01", record="E2", risk=12.0, row=2)),
                             "d1", quiet_days=7, now=now)
                state.batch_today({}, 25, now, now.strftime("%Y%m%dT%H%M%S"))
        written = write_batches(state, request, PEOPLE, now, [])
        sent, failed = send_due(state, request, now)
        attempts = state.table("attempts")
    return request, written, sent, failed, attempts


def test_the_outbox_names_each_person_with_their_event_risk_and_reasons_owner_only(tmp_path):
    request, [path], *_ = _notify_once(tmp_path, NotifyConfig(), NOW, new=True)
    assert path.parent == request.outbox / "Cardiff"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert stat.S_IMODE(path.parent.stat().st_mode) == 0o700
    rows = pd.read_csv(path, dtype=str, keep_default_na=False)
    assert tuple(rows.columns) == OUTBOX_COLUMNS
    first = rows.iloc[0]  # highest risk first
    assert (first["nhs_number"], first["surname"], first["risk_percent"], first["tier"]) == (
        "9434765919", "Pritchard", "31.5", "high")
    assert first["event"] == "emergency department attendance for a fall" and "raises risk" in first["reasons"]


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_email_through_an_smtp_server_that_is_down_then_recovers_is_sent_once(tmp_path):
    from aiosmtpd.controller import Controller

    port = _free_port()
    config = NotifyConfig.model_validate({
        "smtp": {"host": "127.0.0.1", "port": port, "sender": "falls-risk@example.org"},
        "teams": {"Cardiff": {"email": {"to": ["falls-team@example.org"]}}},
        "retry": {"first_seconds": 600},
    })
    _, _, sent, failed, _ = _notify_once(tmp_path, config, NOW, new=True)
    assert (sent, failed) == ({}, {"email": 2})  # nobody listening: recorded, kept for a retry

    received = []

    class Handler:
        async def handle_DATA(self, server, session, envelope):
            received.append(envelope.content.decode("utf-8"))
            return "250 OK"

    controller = Controller(Handler(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        # Back-off: not retried before 10 minutes have passed.
        assert _notify_once(tmp_path, config, NOW + timedelta(minutes=5), new=False)[2:4] == ({}, {})
        _, _, sent, failed, attempts = _notify_once(tmp_path, config, NOW + timedelta(minutes=11), new=False)
        assert (sent, failed) == ({"email": 2}, {})
        assert _notify_once(tmp_path, config, NOW + timedelta(hours=5), new=False)[2:4] == ({}, {})  # never twice
    finally:
        controller.stop()
    assert len(received) == 2 and any("Pritchard" in m and "9434765919" in m for m in received)
    assert attempts.groupby("ok").size().to_dict() == {0: 2, 1: 2}


@pytest.mark.enable_socket
@pytest.mark.allow_hosts(["127.0.0.1"])
def test_a_webhook_that_fails_then_recovers_receives_each_notification_once_as_json(tmp_path):
    posted, state = [], {"down": True}

    class Hook(BaseHTTPRequestHandler):
        def do_POST(self):
            body = self.rfile.read(int(self.headers["Content-Length"]))
            if state["down"]:
                self.send_response(503)
            else:
                posted.append((json.loads(body), self.headers.get("Authorization")))
                self.send_response(200)
            self.end_headers()

        def log_message(self, *args):  # keep the test output clean
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Hook)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        config = NotifyConfig.model_validate({
            "teams": {"Cardiff": {"webhook": {"url": f"http://127.0.0.1:{server.server_port}/alerts",
                                              "headers": {"Authorization": "Bearer ${FALLS_RISK_TEST_TOKEN}"}}}},
            "retry": {"first_seconds": 0},
        })
        _, _, _sent, failed, _ = _notify_once(tmp_path, config, NOW, new=True)
        assert failed == {"webhook": 2} and not posted
        state["down"] = False
        os.environ["FALLS_RISK_TEST_TOKEN"] = "s3cret"
        assert _notify_once(tmp_path, config, NOW + timedelta(minutes=1), new=False)[2] == {"webhook": 2}
        assert _notify_once(tmp_path, config, NOW + timedelta(minutes=2), new=False)[2] == {}
    finally:
        server.shutdown()
        os.environ.pop("FALLS_RISK_TEST_TOKEN", None)
    payloads = {p["notification_id"]: (p, auth) for p, auth in posted}
    assert len(posted) == 2 == len(payloads)
    body, auth = next(v for v in payloads.values() if v[0]["person"]["surname"] == "Pritchard")
    assert auth == "Bearer s3cret"
    assert body["events"] == [{"source": "ed_attendances", "record_id": "E1", "event_date": "2025-12-01",
                               "event": "emergency department attendance for a fall"}]
    assert body["risk_percent"] == 31.5 and body["tier"] == "high"
