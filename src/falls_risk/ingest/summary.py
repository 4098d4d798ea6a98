"""The ingest summary: the record of one ingest (``catalog.INGEST_SUMMARY``), shown as a Rich table."""

from __future__ import annotations

import datetime as dt
from dataclasses import asdict, dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from falls_risk.catalog import INGEST_SUMMARY, INGESTED, QUARANTINE, Base


@dataclass(frozen=True)
class SourceSummary:
    source: str
    file: str
    format: str
    sha256: str
    read: int
    accepted: int
    quarantined: int
    reasons: dict[str, int] = field(default_factory=dict)
    nhs_number_invalid: int | None = None
    extra_columns: list[str] = field(default_factory=list)
    absent_optional_columns: list[str] = field(default_factory=list)
    # Several files for one source (yearly PEDW files): each file's sha256; ``sha256`` covers them all.
    file_hashes: dict[str, str] = field(default_factory=dict)
    max_quarantine_share: float | None = None  # the limit this source was held to

    @property
    def quarantined_share(self) -> float:
        return self.quarantined / self.read if self.read else 0.0

    @property
    def balanced(self) -> bool:
        return self.read == self.accepted + self.quarantined


@dataclass(frozen=True)
class IngestSummary:
    """What an ingest read and wrote; later stages read it with :meth:`read`."""

    extract_dir: str
    workspace: str
    extract_date: dt.date
    extract_date_source: str
    mapping: str | None
    sources: dict[str, SourceSummary]
    absent_sources: list[str]
    ignored_files: list[str]
    notes: list[str] = field(default_factory=list)
    # Sources above their quarantine limit that --accept-quarantine let through: source -> share.
    quarantine_accepted: dict[str, float] = field(default_factory=dict)

    @property
    def rows_read(self) -> int:
        return sum(s.read for s in self.sources.values())

    @property
    def rows_accepted(self) -> int:
        return sum(s.accepted for s in self.sources.values())

    @property
    def rows_quarantined(self) -> int:
        return sum(s.quarantined for s in self.sources.values())

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["extract_date"] = self.extract_date.isoformat()
        data["totals"] = {"read": self.rows_read, "accepted": self.rows_accepted,
                          "quarantined": self.rows_quarantined}
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> IngestSummary:
        fields = {k: v for k, v in data.items() if k != "totals"}
        fields["extract_date"] = dt.date.fromisoformat(str(data["extract_date"])[:10])
        fields["sources"] = {name: SourceSummary(**s) for name, s in data["sources"].items()}
        return cls(**fields)

    def write(self, base: Base) -> None:
        INGEST_SUMMARY.save(base, self.to_dict())

    @classmethod
    def read(cls, base: Base) -> IngestSummary:
        return INGEST_SUMMARY.load_record(base, cls.from_dict)

    def input_hashes(self) -> dict[str, str]:
        """sha256 of each source file read, by file name."""
        hashes: dict[str, str] = {}
        for s in self.sources.values():
            hashes.update(s.file_hashes or {s.file: s.sha256})
        return hashes

    def counts(self) -> dict[str, dict[str, int]]:
        """read / accepted / quarantined rows per source."""
        return {
            name: {"read": s.read, "accepted": s.accepted, "quarantined": s.quarantined}
            for name, s in self.sources.items()
        }


def summary_table(summary: IngestSummary, top_reasons: int = 3) -> Table:
    table = Table()
    table.add_column("source", no_wrap=True)
    table.add_column("read", justify="right", no_wrap=True)
    table.add_column("accepted", justify="right", no_wrap=True)
    table.add_column("quarantined", justify="right", no_wrap=True)
    table.add_column("top reasons (rows)", overflow="fold", ratio=1)
    for s in summary.sources.values():
        reasons = sorted(s.reasons.items(), key=lambda kv: (-kv[1], kv[0]))
        shown = "\n".join(f"{reason}: {count:,}" for reason, count in reasons[:top_reasons])
        if len(reasons) > top_reasons:
            shown += f"\n(+{len(reasons) - top_reasons} more in {INGEST_SUMMARY.file_name})"
        table.add_row(s.source, f"{s.read:,}", f"{s.accepted:,}", f"{s.quarantined:,}", shown or "-")
    for name in summary.absent_sources:
        table.add_row(f"[dim]{name}[/]", "[dim]absent[/]", "", "", "")
    table.add_row(
        "[bold]total[/]", f"{summary.rows_read:,}", f"{summary.rows_accepted:,}", f"{summary.rows_quarantined:,}",
        "",
    )
    return table


def print_summary(summary: IngestSummary, console: Console) -> None:
    # Printed as text, not as the table's title: a long path must wrap, never be cut off.
    console.print(
        f"Ingest of {summary.extract_dir}: extract date {summary.extract_date} ({summary.extract_date_source})",
        highlight=False,
        soft_wrap=True,
    )
    console.print(summary_table(summary))
    for note in summary.notes:
        console.print(f"[yellow]Note:[/] {note}", highlight=False)
    console.print(
        f"Wrote {INGESTED.path(summary.workspace, source='*').parent}, "
        f"{QUARANTINE.path(summary.workspace, source='*').parent} and {INGEST_SUMMARY.path(summary.workspace)} "
        f"(every quarantined row with its reasons is in {QUARANTINE.path(summary.workspace, source='<source>')}).",
        highlight=False,
    )
