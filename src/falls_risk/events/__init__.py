"""The events stage: one long event table from the linked sources, and its code vocabulary.

Public API: :func:`build_events` (``WS/linked/`` -> ``WS/events/events.parquet``); the codes it
emits, their families and the one wildcard rule are ``falls_risk.events.vocabulary``.
"""

from falls_risk.events.build import build_events

__all__ = ["build_events"]
