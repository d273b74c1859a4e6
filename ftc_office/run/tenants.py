"""The one "no such tenant" answer, for every command that takes --tenant."""

from __future__ import annotations

from ftc_office.errors import UsageError


def unknown_tenant(tenant: str) -> UsageError:
    """The error for a --tenant that no tracker holds (exit code 2)."""
    return UsageError(f"--tenant {tenant}", "no such tenant in the trackers",
                      "check the Tenant ID (run 'ftc-office plan' without --tenant)")


def require_tenant(tenant: str | None, found: bool) -> None:
    """Raise `unknown_tenant` when a --tenant was asked for and nothing matched it."""
    if tenant and not found:
        raise unknown_tenant(tenant)
