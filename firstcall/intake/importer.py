"""Importing .eml files through the email channel (migrations, tests, benchmarks)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from firstcall.intake.channels.email import ingest_email
from firstcall.intake.models import InboundStatus


class NotAnEmailSource(ValueError):
    """The path is neither an .eml file nor a folder."""


@dataclass
class ImportSummary:
    files: int = 0
    created: int = 0
    threaded: int = 0
    duplicates: int = 0
    rejected: list[tuple[Path, str]] = field(default_factory=list)
    # Stored, but processing raised: the intake sweep retries them.
    failed: list[tuple[Path, str]] = field(default_factory=list)
    unreadable: list[tuple[Path, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def rate(self) -> float:
        return self.files / self.seconds if self.seconds > 0 else 0.0


def find_eml_files(path: Path) -> list[Path]:
    """The file itself, or every *.eml under the folder (any depth), in name order."""
    if path.is_file():
        return [path]
    if path.is_dir():
        return sorted(p for p in path.rglob("*") if p.suffix.lower() == ".eml" and p.is_file())
    raise NotAnEmailSource(f"{path} is neither a file nor a folder.")


def import_files(paths: list[Path], *, acknowledge: bool, progress: bool | None = None) -> ImportSummary:
    summary = ImportSummary()
    started = time.perf_counter()
    for path in tqdm(paths, desc="Importing", unit="msg", disable=None if progress is None else not progress):
        summary.files += 1
        try:
            raw = path.read_bytes()
        except OSError as error:
            summary.unreadable.append((path, error.strerror or str(error)))
            continue
        try:
            outcome = ingest_email(raw, source="import", acknowledge=acknowledge)
        except Exception as error:  # stored 'received' with the error; the sweep retries it
            summary.failed.append((path, f"{type(error).__name__}: {error}"))
            continue
        if outcome.duplicate:
            summary.duplicates += 1
        elif outcome.status == InboundStatus.REJECTED:
            summary.rejected.append((path, outcome.reason))
        elif outcome.created_ticket:
            summary.created += 1
        else:
            summary.threaded += 1
    summary.seconds = time.perf_counter() - started
    return summary
