"""Rich progress bars and console output shared by every stage."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

from rich.console import Console
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    SpinnerColumn,
    TextColumn,
    TimeElapsedColumn,
)

console = Console(stderr=True)


@contextlib.contextmanager
def progress_bar(disable: bool = False) -> Iterator[Progress]:
    """A progress display for steps that take more than a few seconds.

    Usage: ``with progress_bar() as p: task = p.add_task("Linking", total=n); p.advance(task)``.
    """
    progress = Progress(
        SpinnerColumn(),
        TextColumn("[progress.description]{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=console,
        transient=False,
        disable=disable,
    )
    with progress:
        yield progress
