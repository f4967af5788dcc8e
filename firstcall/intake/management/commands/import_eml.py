"""``firstcall import-eml PATH``: bring old mail (.eml files) in through the email pipeline.

Migrating old mail must not email anyone, so acknowledgments are off unless --acknowledge.
A message imported twice is recognised by its Message-ID and kept once.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser
from tqdm import tqdm

from firstcall.intake.channels.email import ingest_email
from firstcall.intake.models import InboundStatus

SHOWN_PROBLEMS = 5


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
    raise CommandError(f"{path} is neither a file nor a folder.")


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


def _plural(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


class Command(BaseCommand):
    help = "Import .eml files (one file, or a folder searched recursively) as tickets."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="an .eml file or a folder of them")
        parser.add_argument(
            "--acknowledge",
            action="store_true",
            help="email an acknowledgment to the sender of each new ticket (off by default: "
            "migrating old mail should not write to people)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        path: Path = options["path"]
        if not path.exists():
            raise CommandError(f"No such file or folder: {path}")
        paths = find_eml_files(path)
        if not paths:
            self.stdout.write(f"No .eml files under {path}.")
            return
        # tqdm draws on stderr and only on a terminal (None = auto).
        summary = import_files(paths, acknowledge=options["acknowledge"], progress=None)
        self.report(summary, acknowledged=options["acknowledge"])
        if summary.unreadable:
            raise CommandError(f"{_plural(len(summary.unreadable), 'file')} could not be read (see above).")

    def report(self, summary: ImportSummary, *, acknowledged: bool) -> None:
        write = self.stdout.write
        write(
            f"Imported {_plural(summary.files, 'file')} in {summary.seconds:.1f} s "
            f"({summary.rate:.1f} messages/second)."
        )
        write(f"  {summary.created} new tickets" + ("" if acknowledged else " (no acknowledgments sent)"))
        write(f"  {summary.threaded} threaded onto existing tickets")
        write(f"  {summary.duplicates} duplicates (imported before, kept once)")
        for label, problems in (
            ("rejected", summary.rejected),
            ("failed (stored; the intake sweep retries them)", summary.failed),
            ("unreadable", summary.unreadable),
        ):
            write(f"  {len(problems)} {label}")
            for problem_path, reason in problems[:SHOWN_PROBLEMS]:
                write(f"    {problem_path}: {reason}")
            if len(problems) > SHOWN_PROBLEMS:
                write(f"    … and {len(problems) - SHOWN_PROBLEMS} more")
