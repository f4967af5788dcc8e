"""Fixtures for the report tests. Helpers that open, answer and resolve tickets are in
``scenario``."""

from __future__ import annotations

import pytest

from firstcall.clients.models import Client
from tests.reports.scenario import simple_targets


@pytest.fixture
def targets(dental: Client, law: Client) -> None:
    """See ``simple_targets``: Dental P3 120/480 min, Law P3 60/240 min, on 24×7."""
    simple_targets(dental, law)
