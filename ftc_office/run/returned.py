"""Confirmations of queue moves coming back from the assignment team: a returned copy of
the queue-move workbook (its *Moved On* / *Moved By* columns filled) or a reply.

A returned workbook is recognised by the request key in its custom document property
(``FtcRequestKey``, see :mod:`ftc_office.compose.queue_sheet`), which must name a queue-move
request in the ledger. Every row is checked (tenant part of that request, a date not before
the request and not in the future) and every problem names its cell; nothing is applied
while any problem remains (:func:`ftc_office.run.confirm.apply_confirmations`).
"""

from __future__ import annotations

import datetime as dt
import io
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ftc_office.compose.queue_sheet import KEY_PROPERTY, MOVED_BY, MOVED_ON, SHEET_TITLE
from ftc_office.errors import LedgerError, Problem
from ftc_office.jobs import JobKind
from ftc_office.ledger import Entry, Ledger
from ftc_office.xlsx.cells import col_letter

_REQUEST_DATE = re.compile(r"^queue_move\.[^.]+\.(\d{4}-\d{2}-\d{2})\.")


@dataclass(frozen=True)
class Confirmation:
    """The assignment team moved ``tenant_id`` on ``date``: from where (``source`` is
    ``typed``, ``workbook`` or ``reply``; ``where`` the file and cell, or the reply)."""

    tenant_id: str
    date: dt.date
    source: str
    where: str
    by: str = ""
    request: str = ""


class ConfirmationProblems(LedgerError):
    """Confirmations that cannot be applied; nothing was recorded or written."""

    def __init__(self, problems: list[Problem]) -> None:
        first = problems[0]
        more = f" (and {len(problems) - 1} more problem(s))" if len(problems) > 1 else ""
        super().__init__(first.where, first.what + more, first.fix)
        self.problems = problems


def request_date(key: str) -> dt.date | None:
    """The date a queue-move request was made, read from its ledger key."""
    m = _REQUEST_DATE.match(key)
    return dt.date.fromisoformat(m.group(1)) if m else None


def queue_request(ledger: Ledger, key: str) -> Entry | None:
    """The ledger's queue-move request ``key``, if it exists and went out."""
    entry = ledger.get(key)
    if entry is None or entry.kind != JobKind.QUEUE_MOVE or entry.state not in ("sent", "done"):
        return None
    return entry


def _as_date(value: Any) -> dt.date | None:
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    if isinstance(value, str):
        try:
            return dt.date.fromisoformat(value.strip()[:10])
        except ValueError:
            return None
    return None


def _load(data: bytes, where: str) -> Any:
    from openpyxl import load_workbook

    try:
        return load_workbook(io.BytesIO(data), data_only=True)
    except Exception as exc:  # a loader raises ten different kinds on a damaged file
        raise ConfirmationProblems([Problem(
            where, f"not a readable workbook ({type(exc).__name__})",
            "send the queue-move workbook back as .xlsx, or confirm with --tenant")]) from None


def _columns(ws: Any, where: str) -> dict[str, int]:
    heads = {str(c.value).strip().casefold(): c.column for c in ws[1] if c.value is not None}
    need = ("tenant id", MOVED_ON.casefold(), MOVED_BY.casefold())
    missing = [n for n in need if n not in heads]
    if missing:
        raise ConfirmationProblems([Problem(
            f"{where} {ws.title}!1", f"no column {', '.join(missing)} in the header row",
            "keep the workbook's columns as they were sent")])
    return heads


def read_returned(data: bytes, name: str, ledger: Ledger, today: dt.date
                  ) -> list[Confirmation]:
    """The confirmations of one returned workbook (rows with *Moved On* filled); raises
    ConfirmationProblems naming every bad cell."""
    wb = _load(data, name)
    props = {p.name: p.value for p in wb.custom_doc_props}
    key = str(props.get(KEY_PROPERTY) or "")
    entry = queue_request(ledger, key) if key else None
    asked = request_date(key) if entry else None
    if entry is None or asked is None:
        raise ConfirmationProblems([Problem(
            name, "not one of our queue-move workbooks (no request key, or a request this "
                  "ledger has not sent)",
            "use the workbook attached to the queue-move message, from this data folder")])
    ws = wb[SHEET_TITLE] if SHEET_TITLE in wb.sheetnames else wb.worksheets[0]
    cols = _columns(ws, name)
    ids = {t.casefold(): t for t in entry.tenant_ids}
    out: list[Confirmation] = []
    problems: list[Problem] = []
    for r in range(2, ws.max_row + 1):
        tid = str(ws.cell(r, cols["tenant id"]).value or "").strip()
        raw = ws.cell(r, cols[MOVED_ON.casefold()]).value
        if not tid or raw in (None, ""):
            continue
        cell = f"{name} {ws.title}!{col_letter(cols[MOVED_ON.casefold()])}{r}"
        when = _as_date(raw)
        if tid.casefold() not in ids:
            problems.append(Problem(f"{name} {ws.title}!A{r}", f"tenant {tid} is not part of "
                                    f"request {key}", "remove the row, or confirm it with "
                                    "--tenant"))
        elif when is None:
            problems.append(Problem(cell, f"{raw!r} is not a date", "enter it as YYYY-MM-DD"))
        elif when < asked:
            problems.append(Problem(cell, f"{when} is before the request ({asked})",
                                    "correct the date the tenant was moved"))
        elif when > today:
            problems.append(Problem(cell, f"{when} is in the future", "correct the date"))
        else:
            by = str(ws.cell(r, cols[MOVED_BY.casefold()]).value or "").strip()
            out.append(Confirmation(ids[tid.casefold()], when, "workbook", cell, by, key))
    if problems:
        raise ConfirmationProblems(problems)
    return out


def read_returned_files(paths: list[Path], ledger: Ledger, today: dt.date
                        ) -> list[Confirmation]:
    """:func:`read_returned` over several files; every file's problems together."""
    out: list[Confirmation] = []
    problems: list[Problem] = []
    for path in paths:
        try:
            data = path.read_bytes()
        except OSError as exc:
            problems.append(Problem(str(path), f"cannot be read ({exc.strerror})",
                                    "check the path"))
            continue
        try:
            out.extend(read_returned(data, str(path), ledger, today))
        except ConfirmationProblems as exc:
            problems.extend(exc.problems)
    if problems:
        raise ConfirmationProblems(problems)
    return out
