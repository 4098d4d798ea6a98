"""Errors a user can act on.

Every error raised for bad input or bad usage is a :class:`FallsRiskError`. The CLI prints its
message (no traceback unless ``--debug``) and exits with code 1. Messages name the file, the
row or column, and say what to do.
"""

from __future__ import annotations

from collections.abc import Sequence


class FallsRiskError(Exception):
    """A data or user error with a message that says what to do."""


class ExtractError(FallsRiskError):
    """An agency extract cannot be read or does not meet the contract."""


class MappingError(FallsRiskError):
    """A mapping file is malformed or refers to unknown sources or columns."""


class ConfigError(FallsRiskError):
    """A configuration or experiment file is invalid."""


class WorkspaceError(FallsRiskError):
    """A workspace lacks the outputs of an earlier stage."""


class LinkageError(FallsRiskError):
    """Record linkage cannot run or its inputs are inconsistent."""


class ModelError(FallsRiskError):
    """A model cannot be trained, loaded or used as asked."""


class ScoringError(FallsRiskError):
    """A monthly scoring run is refused (unsafe or inconsistent inputs)."""


class EngineError(FallsRiskError):
    """The query engine (DuckDB or Spark) cannot be started or cannot run a query as written."""


def format_examples(items: Sequence[object], limit: int = 5) -> str:
    """Render up to ``limit`` examples, then how many more there were."""
    shown = ", ".join(str(item) for item in list(items)[:limit])
    extra = len(items) - limit
    return f"{shown} (and {extra} more)" if extra > 0 else shown


def parameter_error(name: str, allowed: object, given: object) -> FallsRiskError:
    """An error naming the parameter, what was allowed, and what was given (sklearn style)."""
    return FallsRiskError(f"Invalid value for {name!r}: expected {allowed}, got {given!r}.")


class NotifyError(FallsRiskError):
    """The notification service cannot run as asked (no monthly run, a bad state file, ...)."""
