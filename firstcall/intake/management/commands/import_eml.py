"""``firstcall import-eml PATH``: bring old mail (.eml files) in through the email pipeline.

Migrating old mail must not email anyone, so acknowledgments are off unless --acknowledge.
A message imported twice is recognised by its Message-ID and kept once.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from firstcall.intake.importer import ImportSummary, NotAnEmailSource, find_eml_files, import_files

SHOWN_PROBLEMS = 5


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
        try:
            paths = find_eml_files(path)
        except NotAnEmailSource as error:
            raise CommandError(str(error)) from None
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
