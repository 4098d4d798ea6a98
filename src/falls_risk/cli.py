"""The ``falls-risk`` command: a thin Typer layer.

Each command parses its options, loads config, and makes one library call. Errors a user can act
on (:class:`FallsRiskError`) print one message and exit 1; ``--debug`` anywhere on the command
line shows the traceback instead. Bad usage exits 2.
"""

from __future__ import annotations

import sys
from datetime import date
from pathlib import Path
from typing import Annotated

import click
import typer

from falls_risk.errors import FallsRiskError
from falls_risk.progress import console

app = typer.Typer(
    name="falls-risk",
    help="Find older people at high risk of a fall-related emergency admission.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)

WorkspaceOpt = Annotated[
    Path, typer.Option("--workspace", "-w", help="Workspace folder that the pipeline stages fill.")
]
ConfigOpt = Annotated[
    Path | None,
    typer.Option("--config", help="Pipeline config YAML (linkage, features); defaults apply otherwise."),
]


def _parse_date(value: str | None, option: str) -> date | None:
    if value is None:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise typer.BadParameter(f"expected a date YYYY-MM-DD, got {value!r}", param_hint=option) from None


@app.command()
def synth(
    out: Annotated[Path, typer.Option("--out", help="Folder to write extract/ and truth/ into.")],
    people: Annotated[int, typer.Option(min=10, help="Number of people in the region.")] = 70_000,
    seed: Annotated[int, typer.Option(help="Random seed; the same seed gives the same world.")] = 1,
    start: Annotated[str, typer.Option(help="First day of the extract (YYYY-MM-DD).")] = "2019-01-01",
    end: Annotated[str, typer.Option(help="Last day of the extract (YYYY-MM-DD).")] = "2025-12-31",
) -> None:
    """Write a synthetic multi-agency world: agency extracts plus the ground truth."""
    from falls_risk.synth import generate_world

    generate_world(
        out, people=people, seed=seed, start=_parse_date(start, "--start"), end=_parse_date(end, "--end")
    )


@app.command()
def ingest(
    extract_dir: Annotated[Path, typer.Argument(help="Folder holding one file per source.")],
    workspace: WorkspaceOpt,
    mapping: Annotated[
        Path | None, typer.Option(help="Mapping YAML: per-source renames, date formats, value maps.")
    ] = None,
    extract_date: Annotated[
        str | None,
        typer.Option(help="Date the extract was taken (YYYY-MM-DD); default: latest event date in it."),
    ] = None,
) -> None:
    """Validate and normalise an extract into the workspace; quarantine bad rows with reasons."""
    from falls_risk.ingest import run_ingest

    run_ingest(
        extract_dir, workspace, mapping=mapping, extract_date=_parse_date(extract_date, "--extract-date")
    )


def main(argv: list[str] | None = None) -> int:
    """Console entry point. Returns the exit code (0 ok, 1 data/user error, 2 bad usage)."""
    args = list(sys.argv[1:] if argv is None else argv)
    debug = "--debug" in args
    args = [a for a in args if a != "--debug"]
    try:
        app(args=args, prog_name="falls-risk", standalone_mode=False)
    except FallsRiskError as exc:
        if debug:
            raise
        console.print(f"[bold red]Error:[/] {exc}", highlight=False, soft_wrap=True)
        return 1
    except click.exceptions.Exit as exc:
        return exc.exit_code
    except click.ClickException as exc:
        exc.show()
        return exc.exit_code
    except click.Abort:
        console.print("Interrupted; earlier outputs are intact.")
        return 130
    return 0


def entry_point() -> None:
    sys.exit(main())
