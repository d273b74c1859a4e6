"""The plan vocabulary: a tenant's one next step (docs/DOMAIN.md "The plan").

A module of its own, importing nothing of ftc-office, so the command line can offer the steps
(``plan --step``) without loading the playbook: `plan` starts reading its tracker first.
"""

from __future__ import annotations

import enum


class Step(enum.StrEnum):
    """The plan vocabulary (docs/DOMAIN.md "The plan")."""

    INVALID = "invalid"
    NOT_ELIGIBLE = "not_eligible"
    SEND_ATU = "send_atu"
    AWAIT_DISCUSSION = "await_discussion"
    SEND_CUSTOMER_FOLLOWUP = "send_customer_followup"
    REQUEST_QUEUE_MOVE = "request_queue_move"
    AWAIT_QUEUE_CONFIRMATION = "await_queue_confirmation"
    UNASSIGN_FM = "unassign_fm"
    CLOSED = "closed"
