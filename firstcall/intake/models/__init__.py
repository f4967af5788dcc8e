"""Intake's models: the raw store, and each channel's own records (one module each)."""

from firstcall.intake.models.alerts import *  # noqa: F403
from firstcall.intake.models.calls import *  # noqa: F403
from firstcall.intake.models.inbound import InboundMessage, InboundStatus
from firstcall.intake.models.mailboxes import *  # noqa: F403

__all__ = ["InboundMessage", "InboundStatus"]
