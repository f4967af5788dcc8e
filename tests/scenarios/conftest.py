"""The scenarios use the escalation tests' staff (with phones) and on-call schedule."""

from tests.escalation.conftest import engineering, mia, staff

__all__ = ["engineering", "mia", "staff"]
