"""Run falls-risk commands in this process under a socket audit hook (``python audit_child.py
REPORT.json COMMANDS.json``). Not a test: ``tests/test_no_network.py`` runs it as a child process.

The hook (PEP 578, ``sys.addaudithook``) sees every ``socket.connect`` / ``sendto`` and every
name lookup (``getaddrinfo``, ``gethostbyname``, ``gethostbyaddr``) any library makes, before the
call happens, so nothing can reach the network unseen; an offending call (a name lookup, a
connection to an address that is not loopback) is recorded and then blocked, so the test itself
never reaches the network either. Loopback binds are recorded too (the training stack's urllib3
probes IPv6 by binding ``::1``) but are not connections.
"""

from __future__ import annotations

import ipaddress
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


LOOKUPS = {"socket.getaddrinfo", "socket.gethostbyname", "socket.gethostbyname_ex", "socket.gethostbyaddr",
           "socket.getnameinfo"}
SENDS = {"socket.connect", "socket.sendto", "socket.sendmsg"}


def _remote(address: object) -> bool:
    """Whether a connect/sendto address leaves the machine (a Unix socket path or loopback does not)."""
    if isinstance(address, str):
        return False  # AF_UNIX path
    if isinstance(address, list) and address:
        try:
            return not ipaddress.ip_address(str(address[0]).split("%")[0]).is_loopback
        except ValueError:
            return True  # a host name: it would need a lookup, and leaves the machine
    return True


def is_offending(event: dict) -> bool:
    """A name lookup, or a connection / datagram to an address that is not loopback."""
    name, args = event["event"], event["args"]
    return name in LOOKUPS or (name in SENDS and _remote(args[-1] if args else None))


def offending(events: list[dict]) -> list[dict]:
    return [e for e in events if is_offending(e)]


class Blocked(OSError):
    """Raised by the hook in place of the network call (recorded first), so none is ever made."""


def _hook(event: str, args: tuple) -> None:
    if event in EVENTS:
        record = {"event": event, "args": _describe(args), "command": current[0]}
        seen.append(record)
        if is_offending(record):
            raise Blocked(f"network call blocked by the test's audit hook: {event} {record['args']}")


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
