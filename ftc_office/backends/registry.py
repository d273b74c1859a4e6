"""Choosing a backend by name: ``outbox``, ``smtp`` or ``o365``.

Each backend module is imported only when chosen, so the O365 library (and its network
stack) is never loaded for an outbox run.
"""

from __future__ import annotations

from pathlib import Path

from ftc_office.backends.base import Backend
from ftc_office.config import Settings
from ftc_office.errors import DeliveryError

BACKEND_NAMES = ("outbox", "smtp", "o365")


def make_backend(settings: Settings, backend_name: str | None = None,
                 outbox_dir: Path | None = None, data: Path | None = None) -> Backend:
    """The backend named ``backend_name`` (default: ``delivery.backend`` from the config).

    ``outbox_dir`` overrides ``delivery.outbox_dir`` for the outbox backend; ``data`` is the
    data folder (the Outlook backend keeps its send log there).
    """
    name = (backend_name or settings.delivery.backend).strip().lower()
    if name == "outbox":
        from ftc_office.backends.outbox import OutboxBackend

        return OutboxBackend(outbox_dir or settings.resolve_path(settings.delivery.outbox_dir),
                             settings.delivery.outbox_mode)
    if name == "smtp":
        from ftc_office.backends.smtp import SmtpBackend

        return SmtpBackend(settings.delivery.smtp, default_sender=settings.mail.sender)
    if name == "o365":
        try:
            from ftc_office.backends.o365 import O365Backend
        except ImportError as exc:
            raise DeliveryError("backend o365", f"the Outlook backend cannot be loaded ({exc})",
                                'reinstall with: pip install --upgrade "ftc-office"') from None
        backend: Backend = O365Backend(settings.delivery.o365,
                                       data=data or settings.data_folder())
        return backend
    where = f"--backend {backend_name}" if backend_name else "config key delivery.backend"
    raise DeliveryError(where, f"unknown backend {name!r}",
                        "use one of: " + ", ".join(BACKEND_NAMES))
