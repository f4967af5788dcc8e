"""Importing .eml files through the email channel (migrations, tests, benchmarks)."""

from __future__ import annotations

import contextlib
import itertools
import os
import time
from collections.abc import Iterator
from concurrent.futures import Executor, ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

from django.db import transaction
from tqdm import tqdm

from firstcall.intake.channels.email import prepare_email
from firstcall.intake.models import InboundStatus
from firstcall.intake.pipeline import Prepared, store_and_process


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


# Messages stored per transaction: one commit for many messages. Each message is still
# applied in its own savepoint, so one that fails is stored alone and the rest go on.
BATCH_SIZE = 50
# Below this many files a second process is not worth its start-up.
PARALLEL_PARSE_THRESHOLD = 200


@dataclass(frozen=True)
class _Unreadable:
    reason: str


def _prepare_file(path: Path) -> Prepared | _Unreadable:
    """Read and parse one file. Runs in a helper process: no database here."""
    try:
        raw = path.read_bytes()
    except OSError as error:
        return _Unreadable(error.strerror or str(error))
    return prepare_email(raw, source="import")


def _prepared_in_order(paths: list[Path], pool: Executor | None) -> Iterator[Prepared | _Unreadable]:
    if pool is None:
        return map(_prepare_file, paths)
    return pool.map(_prepare_file, paths, chunksize=32)


def import_files(paths: list[Path], *, acknowledge: bool, progress: bool | None = None) -> ImportSummary:
    """Feed the files through the email pipeline in the given order (replies after what they
    answer). Parsing runs in a second process when there are many files and a spare core, so
    this one only stores; both see the same pipeline code."""
    summary = ImportSummary()
    started = time.perf_counter()
    parallel = len(paths) >= PARALLEL_PARSE_THRESHOLD and (os.cpu_count() or 1) > 1
    with contextlib.ExitStack() as stack:
        pool = stack.enter_context(ProcessPoolExecutor(max_workers=1)) if parallel else None
        prepared_files = zip(paths, _prepared_in_order(paths, pool), strict=True)
        bar = tqdm(
            total=len(paths), desc="Importing", unit="msg", disable=None if progress is None else not progress
        )
        stack.enter_context(bar)
        while batch := list(itertools.islice(prepared_files, BATCH_SIZE)):
            with transaction.atomic():
                for path, prepared in batch:
                    _store_one(summary, path, prepared, acknowledge=acknowledge)
            bar.update(len(batch))
    summary.seconds = time.perf_counter() - started
    return summary


def _store_one(
    summary: ImportSummary, path: Path, prepared: Prepared | _Unreadable, *, acknowledge: bool
) -> None:
    summary.files += 1
    if isinstance(prepared, _Unreadable):
        summary.unreadable.append((path, prepared.reason))
        return
    try:
        outcome = store_and_process(prepared, acknowledge=acknowledge)
    except Exception as error:  # stored 'received' with the error; the sweep retries it
        summary.failed.append((path, f"{type(error).__name__}: {error}"))
        return
    if outcome.duplicate:
        summary.duplicates += 1
    elif outcome.status == InboundStatus.REJECTED:
        summary.rejected.append((path, outcome.reason))
    elif outcome.created_ticket:
        summary.created += 1
    else:
        summary.threaded += 1
