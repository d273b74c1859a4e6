"""Generate a large FastTrack tracker for benchmarks: ``make_tracker.py N OUT.xlsx [--seed S]``.

Same layout as ``samples/tracker.xlsx``: title and subtitle rows, header on row 4, an Excel
table (style + autofilter) over 27 columns (aliases "Customer Name" and "Licensed Seats",
extra columns "Partner" and "Comments", outputs "FM Unassigned" and "Engagement Note"
absent), dropdowns, conditional formatting, frozen panes, real Excel dates, and a small
"Summary" sheet with COUNTIFS formulas. Tenants have 1–3 workloads and are spread over every
plan step for an as-of date of 2026-11-26, with a few invalid tenants (about 1 in 200).

The workbook is streamed with openpyxl's write-only mode (which still writes a proper table
part), so 10,000 rows take a couple of seconds. The same N and seed give the same bytes.
"""

from __future__ import annotations

import argparse
import io
import random
import re
import sys
import time
import uuid
import warnings
import zipfile
from collections.abc import Sequence
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.formatting.formatting import ConditionalFormattingList
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.table import Table, TableColumn, TableStyleInfo

AS_OF = date(2026, 11, 26)
FIXED_TIMESTAMP = datetime(2026, 11, 26, 8, 0, 0)
HEADER_ROW = 4
FIRST_DATA_ROW = HEADER_ROW + 1
TABLE_NAME = "Engagements"
TITLE = "FastTrack RFA engagements — EMEA/Americas/APJ team, FY27"

COLUMNS: tuple[tuple[str, float, str], ...] = (
    ("Tenant ID", 38, ""), ("Customer Name", 34, ""), ("Workload", 24, ""),
    ("Licensed Seats", 10, "#,##0"), ("Active Users", 10, "#,##0"),
    ("No Technical Blockers", 12, ""), ("Region", 11, ""), ("FM", 30, ""),
    ("Account Team", 40, ""), ("Account Managed", 10, ""), ("Customer Contacts", 40, ""),
    ("Partner", 24, ""), ("Discussion Date", 13, "dd-mmm-yyyy"),
    ("Ready For Workloads", 28, ""), ("RFA Form Demoed", 10, ""),
    ("Queue Confirmed", 13, "yyyy-mm-dd"), ("Next Service Status", 13, ""),
    ("Next Steps", 40, ""), ("ATU Sent", 12, "yyyy-mm-dd"),
    ("Customer Email Sent", 12, "yyyy-mm-dd"), ("Task 4058 Complete", 12, "yyyy-mm-dd"),
    ("Queue Requested", 12, "yyyy-mm-dd"), ("Target Queue", 24, ""),
    ("Next Action Date", 13, "yyyy-mm-dd"), ("FTOP Status", 30, ""),
    ("Service Status", 12, ""), ("Comments", 44, ""),
)
HEADERS = tuple(c[0] for c in COLUMNS)
FORMATS = tuple(c[2] for c in COLUMNS)

BASES = (
    "Contoso", "Fabrikam", "Northwind", "Tailspin", "Woodgrove", "Litware", "Adventure Works",
    "Wide World", "Proseware", "Alpine", "Blue Yonder", "Coho", "Fourth Coffee", "Humongous",
    "Lamna", "Lucerne", "Margie's", "Relecloud", "Trey", "VanArsdel", "Wingtip", "A. Datum",
    "Tailwind", "Munson's", "City Power & Light", "Consolidated", "Graphic Design",
)
SUFFIXES = (
    "Ltd", "Inc.", "Group", "Holdings", "Retail", "Health", "Bank", "Energy", "Logistics",
    "Pharmaceuticals", "Travel", "Foods", "Media", "Insurance", "Manufacturing", "College",
)
FMS = tuple(f"{n}@microsoft.com" for n in (
    "priya.raman", "tomas.lindqvist", "grace.okafor", "kenji.watanabe", "ines.moreau",
    "carlos.mendes", "aisha.bello", "liam.oconnor"))
ATU_PEOPLE = ("alex.kim", "maria.gonzalez", "david.chen", "sophie.martin", "omar.haddad",
              "lena.fischer", "raj.patel", "emma.johansson", "luis.fernandez", "yuki.tanaka")
WORKLOADS = ("Exchange Online", "Teams", "SharePoint Online", "OneDrive for Business", "Intune",
             "Microsoft 365 Apps", "Defender for Office 365")
REGIONS = {"Americas": ("Americas", "AMER", "LATAM"), "EMEA": ("EMEA", "Europe"),
           "APJ": ("APJ", "APAC")}
QUEUES = {"Americas": "FTCQ Inactive Americas", "APJ": "FTCQ Inactive APJ",
          "EMEA": "FTCQ Inactive EMEA"}
YESNO_FORMS: tuple[tuple[Any, Any], ...] = (("Yes", "No"), ("Y", "N"), (True, False), ("x", None))
STEPS = ("not_eligible", "send_atu", "await_discussion", "send_customer_followup",
         "request_queue_move", "await_queue_confirmation", "unassign_fm")
STEP_WEIGHTS = (10, 20, 15, 15, 15, 12, 13)
INVALID_KINDS = ("region", "seats_text", "seats_disagree", "bad_contact")
COMMENTS = ("", "", "", "Usage pulled from LYNX", "Weekly cadence on Tuesdays",
            "Asked about Copilot readiness — out of scope", "Phased rollout\nHQ first")


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "", text.lower().replace("&", "and"))


def tenant_rows(k: int, rng: random.Random) -> list[list[Any]]:
    """The rows (in COLUMNS order) of the k-th tenant, put on a random plan step."""
    customer = f"{BASES[k % len(BASES)]} {SUFFIXES[(k // len(BASES)) % len(SUFFIXES)]}"
    if k >= len(BASES) * len(SUFFIXES):
        customer += f" {k // (len(BASES) * len(SUFFIXES)) + 1}"
    tenant_id = str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://ftc-office.example/bench/{k}"))
    invalid = rng.choice(INVALID_KINDS) if rng.random() < 0.005 else ""
    step = rng.choices(STEPS, weights=STEP_WEIGHTS)[0]
    order = STEPS.index(step)
    n = rng.choices((1, 2, 3), weights=(45, 35, 20))[0]
    if invalid == "seats_disagree":
        n = max(n, 2)
    workloads = rng.sample(WORKLOADS, n)
    yes, no = rng.choice(YESNO_FORMS)
    seats = rng.choice((150, 300, 420, 750, 999, 1000, 1200, 2500, 5000, 12000, 40000))
    if step == "not_eligible":
        active = rng.randint(0, 99 if seats >= 1000 else -(-seats // 10) - 1)
        blockers = rng.choice((no, None))
    else:
        low = 100 if seats >= 1000 else -(-seats // 10)
        active = rng.randint(low, max(low, seats * 6 // 10))
        blockers = yes if rng.random() < 0.15 else rng.choice((no, None))
    region_key = rng.choice(sorted(REGIONS))
    region = "Antarctica" if invalid == "region" else rng.choice(REGIONS[region_key])
    fm = FMS[k % len(FMS)]
    known_team = rng.random() > 0.05
    team = "; ".join(f"{p}@microsoft.com" for p in rng.sample(ATU_PEOPLE, rng.randint(1, 2)))
    domain = f"{_slug(customer)}.example"
    contacts = f"it-admin@{domain}" + ("; helpdesk at " + domain if invalid == "bad_contact"
                                       else rng.choice(("", f"; jane.smith@{domain}")))
    base = date(2026, 3, 1) + timedelta(days=rng.randint(0, 150))
    atu = [base + timedelta(days=i * rng.randint(0, 10)) for i in range(n)]
    disc = [d + timedelta(days=rng.randint(7, 35)) for d in atu]
    mail = [d + timedelta(days=rng.randint(0, 4)) for d in disc]
    done_atu = [order >= 2] * n
    done_disc = [order >= 3] * n
    done_mail = [order >= 4] * n
    if step == "send_atu" and n > 1 and rng.random() < 0.4:
        done_atu = [i < n - 1 for i in range(n)]
    if step in ("await_discussion", "send_customer_followup"):
        f = rng.randint(0, n - 1)
        done_mail = [i < f for i in range(n)]
        if step == "await_discussion":
            done_disc = list(done_mail)
    tenant_done = order >= 5
    requested = max(mail) + timedelta(days=rng.randint(1, 10))
    confirmed = requested + timedelta(days=rng.randint(2, 14))
    status_next = rng.choice(("Adoption", "Migration", None)) if order >= 4 else None
    rows: list[list[Any]] = []
    for i, workload in enumerate(workloads):
        seats_cell: Any = seats
        if invalid == "seats_text":
            seats_cell = "lots"
        elif invalid == "seats_disagree" and i == 1:
            seats_cell = seats + 100
        discussed = done_disc[i]
        next_wl = rng.choice(WORKLOADS) if discussed and rng.random() < 0.25 else None
        rows.append([
            tenant_id, customer, workload, seats_cell, active, blockers, region, fm,
            team if known_team else None, yes if rng.random() > 0.05 else (no or "No"),
            contacts, rng.choice(("", "", "Contoso Consulting Partners", "Litware Solutions"))
            or None,
            disc[i] if discussed else None, next_wl,
            (yes if next_wl else rng.choice((no, None))) if discussed else None,
            confirmed if step == "unassign_fm" else None, status_next,
            rng.choice(("", "", "Phased rollout in Q1", "Hybrid until on-prem is retired"))
            or None,
            atu[i] if done_atu[i] else None, mail[i] if done_mail[i] else None,
            requested if tenant_done else None, requested if tenant_done else None,
            QUEUES[region_key] if tenant_done else None,
            date(requested.year + 1, 12, 31) if tenant_done else None,
            "Disengaged - pending queue move" if tenant_done else None, None,
            rng.choice(COMMENTS) or None,
        ])
    return rows


def generate_rows(n_rows: int, seed: int) -> list[list[Any]]:
    """Exactly ``n_rows`` data rows; tenants keep their rows together."""
    rng = random.Random(seed)
    rows: list[list[Any]] = []
    k = 0
    while len(rows) < n_rows:
        rows.extend(tenant_rows(k, rng)[: n_rows - len(rows)])
        k += 1
    return rows


def write(n_rows: int, out: Path, seed: int) -> None:
    """Stream the workbook to ``out``."""
    rows = generate_rows(n_rows, seed)
    last_row = HEADER_ROW + len(rows)
    last_col = get_column_letter(len(COLUMNS))
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("Tracker")
    ws.conditional_formatting = ConditionalFormattingList()
    for c, (_h, width, _f) in enumerate(COLUMNS, start=1):
        ws.column_dimensions[get_column_letter(c)].width = width
    ws.freeze_panes = f"C{FIRST_DATA_ROW}"
    ws.merged_cells.add("A1:H1")

    title = WriteOnlyCell(ws, TITLE)
    title.font = Font(bold=True, size=14, color="1F3864")
    subtitle = WriteOnlyCell(ws, f"Benchmark tracker · {len(rows)} rows · data as of {AS_OF}")
    subtitle.font = Font(italic=True, color="595959")
    ws.append([title])
    ws.append([subtitle])
    ws.append([])
    ws.append(list(HEADERS))
    wrap = Alignment(wrap_text=True, vertical="top")
    for row in rows:
        cells: list[Any] = []
        for value, fmt in zip(row, FORMATS, strict=True):
            if (fmt and isinstance(value, (date, int))) or (
                    isinstance(value, str) and "\n" in value):
                cell = WriteOnlyCell(ws, value)
                if fmt:
                    cell.number_format = fmt
                else:
                    cell.alignment = wrap
                cells.append(cell)
            else:
                cells.append(value)
        ws.append(cells)

    ref = f"A{HEADER_ROW}:{last_col}{last_row}"
    table = Table(displayName=TABLE_NAME, ref=ref)
    table.tableColumns = [TableColumn(id=i, name=h) for i, h in enumerate(HEADERS, start=1)]
    table.autoFilter = AutoFilter(ref=ref)
    table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True)
    with warnings.catch_warnings():  # columns are set above; openpyxl warns regardless
        warnings.filterwarnings("ignore", message="In write-only mode")
        ws.add_table(table)

    def col(header: str) -> str:
        return get_column_letter(HEADERS.index(header) + 1)

    def span(header: str) -> str:
        return f"{col(header)}{FIRST_DATA_ROW}:{col(header)}{last_row}"

    region_dv = DataValidation(type="list", formula1='"Americas,AMER,LATAM,EMEA,Europe,APJ,APAC"',
                               allow_blank=True, errorStyle="warning")
    region_dv.add(span("Region"))
    yesno_dv = DataValidation(type="list", formula1='"Yes,No"', allow_blank=True,
                              errorStyle="information")
    for h in ("No Technical Blockers", "Account Managed", "RFA Form Demoed"):
        yesno_dv.add(span(h))
    status_dv = DataValidation(type="list", formula1='"Adoption,Migration"', allow_blank=True)
    status_dv.add(span("Next Service Status"))
    for dv in (region_dv, yesno_dv, status_dv):
        ws.data_validations.append(dv)
    r0 = FIRST_DATA_ROW
    ws.conditional_formatting.add(f"A{r0}:{last_col}{last_row}", FormulaRule(
        formula=[f'${col("Next Action Date")}{r0}<>""'],
        fill=PatternFill(start_color="E2EFDA", end_color="E2EFDA", fill_type="solid")))
    s, a = col("Licensed Seats"), col("Active Users")
    ws.conditional_formatting.add(span("Active Users"), FormulaRule(
        formula=[f"AND(ISNUMBER(${s}{r0}),ISNUMBER(${a}{r0}),${a}{r0}*10<${s}{r0})"],
        fill=PatternFill(start_color="F8CBAD", end_color="F8CBAD", fill_type="solid")))

    summary = wb.create_sheet("Summary")
    region = f"Tracker!${col('Region')}${r0}:${col('Region')}${last_row}"
    queue = f"Tracker!${col('Queue Requested')}${r0}:${col('Queue Requested')}${last_row}"
    summary.append(["Region", "Rows", "Queue requested"])
    for name, spellings in sorted(REGIONS.items()):
        summary.append([
            name,
            "=" + "+".join(f'COUNTIFS({region},"{sp}")' for sp in spellings),
            "=" + "+".join(f'COUNTIFS({region},"{sp}",{queue},"<>")' for sp in spellings),
        ])

    wb.properties.creator = "FTC RFA team"
    wb.calculation.fullCalcOnLoad = True  # formulas carry no cached values
    wb.properties.created = FIXED_TIMESTAMP
    wb.properties.modified = FIXED_TIMESTAMP
    buffer = io.BytesIO()
    wb.save(buffer)
    out.write_bytes(_freeze_zip(buffer.getvalue()))


def _freeze_zip(data: bytes) -> bytes:
    """Fixed zip timestamps and ``dcterms:modified`` so the output is byte-stable."""
    stamp = FIXED_TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            payload = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                payload = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                                 rb"\g<1>" + stamp + rb"\g<2>", payload)
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIMESTAMP.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, payload)
    return out.getvalue()


def main(argv: Sequence[str] | None = None) -> int:
    """Command line entry point."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("n", type=int, help="number of data rows, e.g. 10000")
    parser.add_argument("out", type=Path, help="the .xlsx to write")
    parser.add_argument("--seed", type=int, default=20261126)
    args = parser.parse_args(argv)
    if args.n < 1:
        parser.error("N must be at least 1")
    start = time.perf_counter()
    write(args.n, args.out, args.seed)
    print(f"wrote {args.out}: {args.n} rows in {time.perf_counter() - start:.1f} s",
          file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
