"""The importer parses in a second process when there are many files; the outcome must be the
same as parsing in order in one process: replies thread onto what they answer."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from bench.corpus import write
from firstcall.intake import importer
from firstcall.intake.models import InboundMessage, InboundStatus
from firstcall.tickets.models import Attachment, MessageKind, Ticket

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize("parallel", [False, True], ids=["one process", "parsing in a second process"])
def test_import_threads_replies_and_stores_everything(
    tmp_path: Path, monkeypatch: Any, dental: Any, parallel: bool
) -> None:
    monkeypatch.setattr(importer, "PARALLEL_PARSE_THRESHOLD", 10 if parallel else 10_000)
    monkeypatch.setattr(importer, "BATCH_SIZE", 7)  # several batches, one partial
    paths = write(tmp_path, 60)
    (tmp_path / "99999.eml").write_bytes(b"\x00\x01 not an email")
    summary = importer.import_files(sorted(tmp_path.glob("*.eml")), acknowledge=False, progress=False)

    assert (summary.files, summary.created, summary.threaded, summary.duplicates) == (61, 40, 20, 0)
    assert [reason for _, reason in summary.rejected] and not summary.failed
    assert InboundMessage.objects.filter(status=InboundStatus.PROCESSED).count() == 60
    assert Ticket.objects.count() == 40
    # Every reply in the corpus lands on the ticket of the message it answers.
    assert all(t.messages.filter(kind=MessageKind.INBOUND).count() >= 1 for t in Ticket.objects.all())
    assert Attachment.objects.count() == 20
    again = importer.import_files(paths, acknowledge=False, progress=False)
    assert again.duplicates == 60 and Ticket.objects.count() == 40
