"""What the run says it did for each job: the words, kept apart from the state machine."""

from __future__ import annotations

from ftc_office.jobs import Job


def done(job: Job, would: bool = False) -> str:
    """A note-only step carried out."""
    return ("would " if would else "done: ") + job.summary


def declined(job: Job) -> str:
    """A message not sent because the person said no at the confirmation."""
    return f"not sent (you declined): {job.summary}"


def in_doubt(job: Job, state: str) -> str:
    """A message that may have gone out already: how to settle it."""
    return (f"message {job.key} may have been sent (state "
            f"{state}) — run again in a few minutes: each run asks the "
            "provider again (Outlook's Sent Items copy can lag); if it "
            "stays unknown (always for SMTP), check Sent Items and run "
            f"'ftc-office resolve {job.key} --sent' or '--resend'")


def delivered(job: Job, backend: str, would: bool = False) -> str:
    """A message the backend accepted (the outbox writes a file, the others send)."""
    if would:
        return "would send " + job.summary
    return ("wrote " if backend == "outbox" else "sent ") + job.summary


def drafted(job: Job, backend: str, would: bool = False) -> str:
    """A message written as a draft for a person to send: in Outlook's Drafts
    (delivery.o365.mode = "draft") or as an outbox .eml (delivery.outbox_mode = "drafts")."""
    if would:
        return f"would write a draft (not sent): {job.summary}"
    if backend == "outbox":
        return f"draft written, not sent (open it in Outlook, send it, then run " \
               f"'ftc-office mark-sent'): {job.summary}"
    return f"drafted in Outlook, not sent (send it from Drafts): {job.summary}"


def unknown(key: str, error: str | None) -> str:
    """A message whose delivery outcome is not known."""
    return (f"{key}: delivery outcome unknown ({error}) — it will be checked at the next run "
            "before any resend")


def refused(key: str, reason: str | None) -> str:
    """The tenant's problem line for a refused message: where, why, what to do."""
    return (f"message {key}: refused by the provider ({reason or 'no reason given'}) — not "
            "retried automatically; fix the cause (e.g. the address in the tracker), then "
            f"run 'ftc-office resolve {key} --resend' (or '--skip' to drop it)")
