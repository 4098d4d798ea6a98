"""Run falls-risk commands in this process under a socket audit hook (``python audit_child.py
REPORT.json COMMANDS.json``). Not a test: ``tests/test_no_network.py`` runs it as a child process.

The hook (PEP 578, ``sys.addaudithook``) sees every ``socket.connect`` / ``sendto`` and every
name lookup (``getaddrinfo``, ``gethostbyname``, ``gethostbyaddr``) any library makes, before the
call happens, so nothing can reach the network unseen. Loopback binds are recorded too (the
training stack's urllib3 probes IPv6 by binding ``::1``) but are not connections.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

EVENTS = {"socket.connect", "socket.sendto", "socket.sendmsg", "socket.getaddrinfo", "socket.gethostbyname",
          "socket.gethostbyname_ex", "socket.gethostbyaddr", "socket.getnameinfo", "socket.bind"}
seen: list[dict] = []


def _describe(value: object) -> object:
    if isinstance(value, tuple):
        return [_describe(v) for v in value]
    if isinstance(value, str | int | float | type(None)):
        return value
    if isinstance(value, bytes):
        return value.decode("latin-1")
    family = getattr(value, "family", None)  # a socket: its family is what matters
    return f"<socket family={int(family)}>" if family is not None else repr(value)


def _hook(event: str, args: tuple) -> None:
    if event in EVENTS:
        seen.append({"event": event, "args": _describe(args), "command": current[0]})


current = ["(start)"]


def main() -> int:
    report, commands = Path(sys.argv[1]), json.loads(Path(sys.argv[2]).read_text())
    sys.addaudithook(_hook)
    from falls_risk.cli import main as cli

    codes = []
    for args in commands:
        current[0] = args[0]
        codes.append(cli(args))
        if codes[-1] != 0:
            break
    report.write_text(json.dumps({"codes": codes, "events": seen}, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
