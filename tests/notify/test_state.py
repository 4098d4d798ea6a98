"""One notification per person per event; the quiet period merges; the daily cap queues, never drops."""

from __future__ import annotations

from datetime import datetime, timedelta

from falls_risk.notify.state import QUEUED, SENT, open_state
from tests.notify.helpers import candidate, frame

NOW = datetime(2025, 12, 2, 7, 0)


def _absorb(runs, rows, *, quiet=7, now=NOW, delivery="d1"):
    with open_state(runs) as state, state.transaction():
        return state.absorb(frame(*rows), delivery, quiet_days=quiet, now=now)


def test_the_same_event_twice_and_an_update_of_its_record_do_not_make_another_notification(tmp_path):
    first = _absorb(tmp_path, [candidate("p1", "2025-12-01", record="A1")])
    again = _absorb(tmp_path, [candidate("p1", "2025-12-01", record="A1")], delivery="d2")
    # The spell's discharge 20 days on, outside the quiet period: the same record, so it merges.
    discharge = _absorb(tmp_path, [candidate("p1", "2025-12-21", record="A1", at="end", event="discharge")])
    assert (first.new_notifications, again.repeated, discharge.merged) == (1, 1, 1)
    with open_state(tmp_path) as state:
        assert state.scalar("SELECT count(*) FROM notifications") == 1
        assert state.scalar("SELECT count(*) FROM events") == 2


def test_a_second_event_within_the_quiet_period_merges_and_one_after_it_does_not(tmp_path):
    result = _absorb(tmp_path, [
        candidate("p1", "2025-12-01", record="A1"),
        candidate("p1", "2025-12-05", record="A2", row=2),   # 4 days later: merged
        candidate("p1", "2025-12-20", record="A3", row=3),   # 15 days after the last: a new one
        candidate("p2", "2025-12-05", record="B1", row=4),   # another person
    ])
    assert (result.new_notifications, result.merged) == (3, 1)
    with open_state(tmp_path) as state:
        rows = state.notifications()
    merged = rows[rows["events"] == 2]
    assert len(merged) == 1 and merged.iloc[0]["event"].count(";") == 1


def test_the_daily_cap_sends_the_highest_risk_first_and_queues_the_rest_for_the_next_day(tmp_path):
    _absorb(tmp_path, [candidate(f"p{i}", "2025-12-01", record=f"R{i}", risk=risk, row=i)
                       for i, risk in enumerate([5.0, 30.0, 12.0, None, 18.0])])
    with open_state(tmp_path) as state:
        with state.transaction():
            waiting = state.batch_today({"Cardiff": 2}, 25, NOW, "t1")
        assert waiting == {"Cardiff": 3}
        batched = state.table("notifications").dropna(subset=["batch_id"])
        assert sorted(batched["risk_percent"]) == [18.0, 30.0]
        with state.transaction():  # later the same day: the cap is used up
            assert state.batch_today({"Cardiff": 2}, 25, NOW + timedelta(hours=3), "t2") == {"Cardiff": 3}
        with state.transaction():  # the next day: the next highest, the unscored fall last
            assert state.batch_today({"Cardiff": 2}, 25, NOW + timedelta(days=1), "t3") == {"Cardiff": 1}
        table = state.table("notifications")
        left = table[table["status"] == QUEUED]
        assert left["risk_percent"].isna().all()  # waits, counted, not dropped
        assert len(table) == 5


def test_an_acknowledged_notification_is_closed_so_a_new_event_opens_another(tmp_path):
    _absorb(tmp_path, [candidate("p1", "2025-12-01", record="A1")])
    with open_state(tmp_path) as state:
        [nid] = state.table("notifications")["notification_id"]
        assert state.acknowledge(nid, "A. Worker", "visited", NOW) == QUEUED
    result = _absorb(tmp_path, [candidate("p1", "2025-12-02", record="A2", row=2)])
    assert result.new_notifications == 1
    with open_state(tmp_path) as state:
        assert set(state.table("notifications")["status"]) == {"acknowledged", QUEUED}
        assert state.table("acknowledgements")["acknowledged_by"].tolist() == ["A. Worker"]
    assert SENT == "sent"
