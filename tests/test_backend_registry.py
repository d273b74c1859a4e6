"""Choosing a backend by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from ftc_office.backends.outbox import OutboxBackend
from ftc_office.backends.registry import make_backend
from ftc_office.backends.smtp import SmtpBackend
from ftc_office.config import Settings
from ftc_office.errors import DeliveryError


def test_default_is_the_configured_outbox(tmp_path: Path) -> None:
    settings = Settings(source=tmp_path / "ftc-office.toml")
    backend = make_backend(settings, None, None)
    assert isinstance(backend, OutboxBackend)
    assert backend.folder == tmp_path / "ftc-office-out" / "outbox"


def test_outbox_dir_override(tmp_path: Path) -> None:
    backend = make_backend(Settings(), "outbox", tmp_path / "elsewhere")
    assert isinstance(backend, OutboxBackend) and backend.folder == tmp_path / "elsewhere"


def test_smtp_by_name() -> None:
    assert isinstance(make_backend(Settings(), "SMTP", None), SmtpBackend)


def test_o365_loads_lazily_or_explains() -> None:
    try:
        backend = make_backend(Settings(), "o365", None)
    except DeliveryError as exc:
        assert "Outlook backend cannot be loaded" in exc.what
    else:
        assert backend.name == "o365"


def test_unknown_name_lists_the_valid_ones() -> None:
    with pytest.raises(DeliveryError) as err:
        make_backend(Settings(), "gmail", None)
    assert err.value.where == "--backend gmail"
    assert "outbox, smtp, o365" in err.value.fix
