"""What the run says it did for each job: the words, kept apart from the state machine."""

from __future__ import annotations

from ftc_office.jobs import Job


def done(job: Job, would: bool = False) -> str:
    """A note-only step carried out."""
    return ("would " if would else "done: ") + job.summary


def declined(job: Job) -> str:
    """A message not sent because the person said no at the confirmation."""
    return f"not sent (you declined): {job.summary}"


def where_to_look(backend: str | None, message_id: str | None = None) -> str:
    """Where a person can see whether a message went out, for the backend that sent it:
    SMTP keeps no copy we could ask for (a recipient or the server's log), Outlook has Sent
    Items, the outbox is a folder."""
    mid = f" (Message-ID {message_id})" if message_id else ""
    if backend == "smtp":
        return (f"ask a recipient whether it arrived, or look the message{mid} up in the SMTP "
                "server's log")
    if backend == "o365":
        return f"look for it{mid} in Outlook's Sent Items (and Drafts)"
    if backend == "outbox":
        return f"look for its .eml file{mid} in the outbox folder"
    return f"ask a recipient whether it arrived{mid}"


def _message_id(job: Job) -> str | None:
    return job.message.message_id() if job.message else None


def in_doubt(job: Job, state: str, backend: str | None = None) -> str:
    """A message that may have gone out already: how to settle it."""
    resolve = f"then run 'ftc-office resolve {job.key} --sent' or '--resend'"
    look = where_to_look(backend, _message_id(job))
    if backend == "smtp":
        return (f"message {job.key} may have been sent (state {state}) — an SMTP server "
                f"cannot be asked afterwards: {look}, {resolve}")
    lag = " (Outlook's Sent Items copy can lag)" if backend == "o365" else ""
    return (f"message {job.key} may have been sent (state {state}) — run again in a few "
            f"minutes: each run asks the provider again{lag}; if it stays unknown, {look}, "
            f"{resolve}")


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


def unknown(job: Job, error: str | None, backend: str | None = None) -> str:
    """A message whose delivery outcome is not known: what happens next, where to look."""
    if backend == "smtp":
        return (f"{job.key}: delivery outcome unknown ({error}) — it is not sent again by "
                f"itself: {where_to_look(backend, _message_id(job))}, then run "
                f"'ftc-office resolve {job.key} --sent' or '--resend'")
    return (f"{job.key}: delivery outcome unknown ({error}) — it will be checked at the next "
            f"run before any resend; if it stays unknown, "
            f"{where_to_look(backend, _message_id(job))}")


def refused(key: str, reason: str | None) -> str:
    """The tenant's problem line for a refused message: where, why, what to do."""
    return (f"message {key}: refused by the provider ({reason or 'no reason given'}) — not "
            "retried automatically; fix the cause (e.g. the address in the tracker), then "
            f"run 'ftc-office resolve {key} --resend' (or '--skip' to drop it)")
