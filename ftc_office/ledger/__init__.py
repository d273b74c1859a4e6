"""The ledger: a durable record of every job (message or note-only step) and every write.

The intent (``sending``, the claim) is committed before every network call; the result
after it. Anything found in ``sending`` or ``unknown`` at the next start is reconciled
through the backend's look-up before anything new is sent. Keys come from tenant ID,
workload, mail kind and recipients — never row numbers.

Two implementations with one behaviour (`core.Ledger`): SQLite in the per-user data folder
(`sqlite`, the default) and a team's shared PostgreSQL database (`postgres`), chosen in
`select`.
"""

from __future__ import annotations

from ftc_office.ledger.core import STATES, Ledger
from ftc_office.ledger.entry import Claimant, Entry, now

__all__ = ["STATES", "Claimant", "Entry", "Ledger", "now"]
