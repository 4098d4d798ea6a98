"""Nothing calls the network (issue 19.10): the whole command-line chain, synth -> ingest -> link
-> features -> train -> promote -> score -> ledger verify, runs in a child process under a socket
audit hook (``tests/audit_child.py``), with telemetry left as the package sets it. No connection
to a non-loopback address, and no name lookup at all, may happen. (The suite's pytest-socket
guard cannot say this: it refuses sockets in this process only, and the training stack binds an
IPv6 loopback socket on import, which is not a connection.)

Everything the chain wrote, and its logs, are then scanned for the true people's identifiers."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.audit_child import offending
from tests.identifiers import scan

REPO = Path(__file__).resolve().parents[1]
# What MLflow takes as "telemetry off" besides its own variable (CI, pytest): a child run without
# them shows what the package itself does, not what this test setup does.
NOT_INHERITED = {"MLFLOW_DISABLE_TELEMETRY", "DO_NOT_TRACK", "MLFLOW_TRACKING_URI", "PYTEST_CURRENT_TEST", "CI",
                 "GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL", "BUILDKITE", "TF_BUILD", "CIRCLECI", "TRAVIS"}


def _plain_env(**extra: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in NOT_INHERITED} | extra


def _telemetry(code: str) -> str:
    probe = ("from mlflow.telemetry.utils import is_telemetry_disabled\n"
             "from mlflow.telemetry.client import get_telemetry_client\n"
             "print(is_telemetry_disabled(), get_telemetry_client() is None)")
    out = subprocess.run([sys.executable, "-c", code + "\n" + probe], env=_plain_env(), capture_output=True,
                         text=True, check=True, timeout=300, cwd=REPO)
    return out.stdout.strip().splitlines()[-1]


def test_the_package_turns_mlflow_telemetry_off_itself():
    """Without the test setup's variable: MLflow alone would send telemetry; importing falls-risk
    (here through the CLI) turns it off before MLflow starts a client."""
    assert _telemetry("import mlflow") == "False False"  # the control: on by default
    assert _telemetry("import falls_risk.cli, mlflow") == "True True"


def test_the_judge_flags_remote_connections_and_lookups():
    assert offending([{"event": "socket.connect", "args": ["<socket family=2>", ["93.184.216.34", 443]]}])
    assert offending([{"event": "socket.getaddrinfo", "args": ["example.org", 443, 0, 1, 0]}])
    assert offending([{"event": "socket.connect", "args": ["<socket family=2>", ["example.org", 80]]}])
    assert not offending([{"event": "socket.connect", "args": ["<socket family=10>", ["::1", 5000, 0, 0]]},
                          {"event": "socket.bind", "args": ["<socket family=10>", ["::1", 0]]},
                          {"event": "socket.connect", "args": ["<socket family=1>", "/run/x.sock"]}])


def test_the_hook_sees_a_real_lookup_and_connection_attempt(tmp_path):
    """The audit child records what a library does before the socket call is made (so it would
    catch telemetry too), and blocks it: here a lookup and a connection to a documentation address
    (RFC 5737), neither of which leaves the machine."""
    script = tmp_path / "probe.py"
    script.write_text(textwrap.dedent(f"""
        import json, socket, sys
        sys.path.insert(0, {str(REPO / "tests")!r})
        import audit_child
        sys.addaudithook(audit_child._hook)
        for call in (lambda: socket.getaddrinfo("telemetry.invalid", 443),
                     lambda: socket.socket().connect(("192.0.2.1", 9))):
            try:
                call()
            except audit_child.Blocked:
                pass  # recorded, and never made
        print(json.dumps(audit_child.seen))
    """))
    out = subprocess.run([sys.executable, str(script)], capture_output=True, text=True, check=True, timeout=60)
    events = json.loads(out.stdout)
    assert [e["event"] for e in offending(events)] == ["socket.getaddrinfo", "socket.connect"]


@pytest.mark.slow
def test_the_cli_chain_makes_no_network_call_and_writes_no_identifier_outside_the_identifiable_outputs(tmp_path):
    world, ws, runs = tmp_path / "world", tmp_path / "ws", tmp_path / "runs"
    store = tmp_path / "mlflow"
    store.mkdir()
    uri = f"sqlite:///{store / 'mlflow.db'}"
    experiment = tmp_path / "tiny.yaml"
    experiment.write_text(
        "name: tiny\nseed: 3\nmodels:\n  - kind: lightgbm\n    name: lightgbm_tiny\n    params: {num_boost_round: 40}\n"
        "evaluation: {bootstrap: 10}\ntracking: {experiment: falls-risk, register_model: true}\n"
    )
    commands = [
        ["synth", "--out", str(world), "--people", "2000", "--seed", "11"],
        ["ingest", str(world / "extract"), "--workspace", str(ws)],
        ["link", "--workspace", str(ws)],
        ["features", "--workspace", str(ws), "--index-dates", "2021-01-01:2024-10-01:quarterly"],
        ["train", str(experiment), "--workspace", str(ws), "--tracking-uri", uri],
        ["promote", "1", "--reason", "no-network test", "--tracking-uri", uri],
        ["score", "--extract", str(world / "extract"), "--as-of", "2025-12-01", "--out", str(runs / "2025-12"),
         "--capacity", "40", "--tracking-uri", uri],
        ["ledger", "verify", str(runs)],
    ]
    (tmp_path / "commands.json").write_text(json.dumps(commands))
    report = tmp_path / "report.json"
    env = _plain_env(HOME=str(tmp_path / "home"), TMPDIR=str(tmp_path), NO_COLOR="1")
    child = subprocess.run(
        [sys.executable, str(REPO / "tests" / "audit_child.py"), str(report), str(tmp_path / "commands.json")],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=1800, check=False,
    )
    assert child.returncode == 0, child.stderr[-3000:]
    result = json.loads(report.read_text())
    assert result["codes"] == [0] * len(commands), child.stderr[-3000:]
    assert offending(result["events"]) == [], json.dumps(offending(result["events"])[:5])
    assert (runs / "2025-12" / "risk_list.csv").exists()

    found, count = scan([ws, store, runs], world / "truth",
                        extra_text={"stdout": child.stdout, "stderr": child.stderr})
    assert count > 30 and not found, "\n".join(found[:20])
