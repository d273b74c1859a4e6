"""Write ``samples/tracker.xlsx``: a realistic FastTrack team tracker for trying the toolkit.

The workbook is laid out the way a team keeps one: a title and a subtitle above the header
(header on row 4), an Excel table with a style and autofilter, dropdowns, conditional
formatting, frozen panes, real Excel dates, a "Summary" sheet with COUNTIFS formulas and
bar charts. Two input headers use aliases ("Customer Name", "Licensed Seats"), two extra
columns ("Partner", "Comments") must be ignored, and two output columns ("FM Unassigned",
"Engagement Note") are left out so the toolkit has to add them at the right end of the table.

The data is written for an as-of date of **2026-11-26** (``AS_OF``): every date in the sheet
is earlier, and each tenant is built to land on one chosen plan step (see ``SPECS`` and
``samples/README.md``). Output is deterministic: a fixed random seed, fixed document
properties and fixed zip timestamps make two runs byte-identical.

Usage::

    .venv/bin/python samples/make_sample.py [OUT.xlsx] [--check]

``--check`` reads the written file back with python-calamine and openpyxl, classifies every
tenant from the cells alone and prints a per-step summary (exit status 1 on a mismatch).
"""

from __future__ import annotations

import argparse
import io
import random
import re
import sys
import uuid
import zipfile
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

from openpyxl import Workbook
from openpyxl.chart import BarChart, Reference
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Font, PatternFill
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.datavalidation import DataValidation
from openpyxl.worksheet.filters import AutoFilter
from openpyxl.worksheet.table import Table, TableStyleInfo
from openpyxl.worksheet.worksheet import Worksheet

AS_OF = date(2026, 11, 26)  # the run date the sample is written for (`--as-of 2026-11-26`)
SEED = 20261126
FIXED_TIMESTAMP = datetime(2026, 11, 26, 8, 0, 0)
HEADER_ROW = 4
FIRST_DATA_ROW = HEADER_ROW + 1
TABLE_NAME = "Engagements"
TITLE = "FastTrack RFA engagements — EMEA/Americas/APJ team, FY27"
SUBTITLE = (
    "Engagement completion tracker · one row per tenant and workload · usage from LYNX · "
    "data as of 2026-11-26"
)
DEFAULT_OUT = Path(__file__).resolve().parent / "tracker.xlsx"

# (header, width, number format or "") — the table's column order. Two headers are aliases
# ("Customer Name" = Customer, "Licensed Seats" = Seats); "Partner" and "Comments" are extra
# columns; the outputs "FM Unassigned" and "Engagement Note" are deliberately absent.
COLUMNS: tuple[tuple[str, float, str], ...] = (
    ("Tenant ID", 38, ""),
    ("Customer Name", 30, ""),
    ("Workload", 24, ""),
    ("Licensed Seats", 10, "#,##0"),
    ("Active Users", 10, "#,##0"),
    ("No Technical Blockers", 12, ""),
    ("Region", 11, ""),
    ("FM", 30, ""),
    ("Account Team", 40, ""),
    ("Account Managed", 10, ""),
    ("Customer Contacts", 40, ""),
    ("Partner", 24, ""),
    ("Discussion Date", 13, "dd-mmm-yyyy"),
    ("Ready For Workloads", 28, ""),
    ("RFA Form Demoed", 10, ""),
    ("Queue Confirmed", 13, "yyyy-mm-dd"),
    ("Next Service Status", 13, ""),
    ("Next Steps", 40, ""),
    ("ATU Sent", 12, "yyyy-mm-dd"),
    ("Customer Email Sent", 12, "yyyy-mm-dd"),
    ("Task 4058 Complete", 12, "yyyy-mm-dd"),
    ("Queue Requested", 12, "yyyy-mm-dd"),
    ("Target Queue", 24, ""),
    ("Next Action Date", 13, "yyyy-mm-dd"),
    ("FTOP Status", 30, ""),
    ("Service Status", 12, ""),
    ("Comments", 44, ""),
)
HEADERS = tuple(c[0] for c in COLUMNS)
ABSENT_OUTPUTS = ("FM Unassigned", "Engagement Note")

FMS = (
    "priya.raman@microsoft.com",
    "tomas.lindqvist@microsoft.com",
    "grace.okafor@microsoft.com",
    "kenji.watanabe@microsoft.com",
)
ATU_PEOPLE = (
    "alex.kim", "maria.gonzalez", "david.chen", "sophie.martin", "omar.haddad", "lena.fischer",
    "raj.patel", "emma.johansson", "luis.fernandez", "hannah.wright", "yuki.tanaka",
    "chloe.dubois", "samuel.mensah", "ana.silva", "peter.novak", "mei.lin",
)
CONTACT_PEOPLE = ("it-admin", "jane.smith", "m365.project", "helpdesk", "cio.office", "j.doe")
WORKLOADS = (
    "Exchange Online", "Teams", "SharePoint Online", "OneDrive for Business", "Intune",
    "Microsoft 365 Apps", "Defender for Office 365",
)
REGION_SPELLINGS = {"Americas": ("Americas", "AMER"), "EMEA": ("EMEA", "Europe"),
                    "APJ": ("APJ", "APAC")}
QUEUES = {"Americas": "FTCQ Inactive Americas", "APJ": "FTCQ Inactive APJ",
          "EMEA": "FTCQ Inactive EMEA"}
# yes/no spellings a team mixes; the "x" form leaves "no" empty.
YESNO_FORMS: tuple[tuple[Any, Any], ...] = (("Yes", "No"), ("Y", "N"), (True, False), ("x", None))
PARTNERS = ("", "", "", "Contoso Consulting Partners", "Fabrikam Cloud Services",
            "Litware Solutions", "Northwind IT Group")
COMMENTS = (
    "", "", "", "", "Usage pulled from LYNX 2026-11-20", "Customer prefers Teams calls, not email",
    "Champion: CIO office; weekly cadence on Tuesdays",
    "Check licences renewal date, EA ends June", "Asked about Copilot readiness — out of scope",
    "Phased rollout: HQ first, then branches\nsee shared notes",
)
NEXT_STEPS = (
    "", "", "", "Phased rollout to retail stores in Q1", "Customer wants adoption webinar series",
    "Tenant-to-tenant migration after divestiture — see RFA FAQ",
    "Hybrid coexistence until on-prem Exchange is retired",
    "Security review with CISO before broad Intune enrolment",
)
FTOP_DISENGAGED = "Disengaged - pending queue move"

STEPS = ("invalid", "not_eligible", "send_atu", "await_discussion", "send_customer_followup",
         "request_queue_move", "await_queue_confirmation", "unassign_fm", "closed")


@dataclass
class Spec:
    """One tenant to write: the customer, the plan step it must land on, and its edge case."""

    customer: str
    step: str
    case: str = ""
    seats: int | None = None
    active: int | None = None
    blockers: bool | None = None  # None: pick at random (never "yes" for not_eligible)
    n_workloads: int | None = None
    region: str | None = None  # a spelling written as-is
    account_team: bool = True
    managed: bool = True
    partial_atu: bool = False  # send_atu with some workloads already sent
    followed_up: int | None = None  # workloads already followed up (await/send_followup)
    next_workloads: str = ""
    demoed: bool | None = None
    iso_text_discussion: bool = False
    requested_year: int | None = None
    service_status_next: str | None = None
    active_empty: bool = False
    # problems for `invalid` tenants
    seats_rows: tuple[Any, ...] = ()
    bad_contact: bool = False
    split_rows: bool = False  # write the last row at the bottom of the sheet


SPECS: tuple[Spec, ...] = (
    # not_eligible
    Spec("Tailspin Toys", "not_eligible", "1000 seats, 99 active users (one short)",
         seats=1000, active=99, blockers=False),
    Spec("Proseware, Inc.", "not_eligible", "500 seats, 49 active users (49*10 < 500)",
         seats=500, active=49, blockers=False),
    Spec("Coho Winery", "not_eligible", "2 workloads, 4200 seats, 35 active", seats=4200,
         active=35, n_workloads=2),
    Spec("Fourth Coffee", "not_eligible", "", seats=250, active=12),
    Spec("Nod Publishers", "not_eligible", "", seats=1800, active=60),
    Spec("Southridge Video", "not_eligible", "120 seats, 11 active (110 < 120)", seats=120,
         active=11),
    Spec("Fourth Coffee Roasters", "not_eligible", "2 workloads", n_workloads=2),
    # send_atu
    Spec("Contoso Ltd", "send_atu", "exactly 1000 seats, 100 active users (eligible)",
         seats=1000, active=100, blockers=False, n_workloads=1),
    Spec("Fabrikam, Inc.", "send_atu", "999 seats, 100 active (100*10 >= 999)", seats=999,
         active=100, blockers=False, n_workloads=1),
    Spec("Northwind Traders", "send_atu", "500 seats, 50 active (exactly 10 %)", seats=500,
         active=50, blockers=False, n_workloads=2),
    Spec("Woodgrove Bank", "send_atu", "eligible only through No Technical Blockers = yes",
         seats=8000, active=40, blockers=True),
    Spec("Trey Research", "send_atu", "Active Users empty, No Technical Blockers = yes",
         seats=650, active_empty=True, blockers=True, n_workloads=1),
    Spec("Litware, Inc.", "send_atu", "empty Account Team (no-account-team note)",
         account_team=False, n_workloads=1),
    Spec("Adventure Works Cycles", "send_atu", "Account Managed = No (team listed)",
         managed=False, n_workloads=1),
    Spec("Lamna Healthcare", "send_atu", "no Account Team and Account Managed = No",
         account_team=False, managed=False, n_workloads=2),
    Spec("Wide World Importers", "send_atu", "3 workloads, ATU sent for 1 of 3",
         n_workloads=3, partial_atu=True),
    Spec("Alpine Ski House", "send_atu", "2 workloads, none sent", n_workloads=2),
    Spec("Blue Yonder Airlines", "send_atu", "", seats=15000, active=2300),
    Spec("Relecloud", "send_atu", ""),
    Spec("Contoso Electronics", "send_atu", ""),
    Spec("Blue Yonder Cargo", "send_atu", "2 workloads, ATU sent for 1 of 2", n_workloads=2,
         partial_atu=True),
    # await_discussion
    Spec("Humongous Insurance", "await_discussion",
         "3 workloads, 2 followed up, 1 not discussed; third row at the bottom of the sheet",
         n_workloads=3, followed_up=2, split_rows=True),
    Spec("Graphic Design Institute", "await_discussion", ""),
    Spec("Lucerne Publishing", "await_discussion", "2 workloads, none discussed",
         n_workloads=2, followed_up=0),
    Spec("Margie's Travel", "await_discussion", "apostrophe in the name"),
    Spec("VanArsdel, Ltd.", "await_discussion", ""),
    Spec("Wingtip Toys", "await_discussion", ""),
    Spec("Bellows College", "await_discussion", "no Account Team (note recorded as ATU Sent)",
         account_team=False, n_workloads=1),
    Spec("Wide World Travel", "await_discussion", ""),
    # send_customer_followup
    Spec("Fabrikam Fiber", "send_customer_followup",
         "Ready For Workloads filled, RFA Form Demoed = yes", n_workloads=1,
         next_workloads="Intune; Defender for Office 365", demoed=True),
    Spec("Contoso Pharmaceuticals", "send_customer_followup",
         "3 workloads, 2 of 3 followed up (not yet request_queue_move)", n_workloads=3,
         followed_up=2),
    Spec("City Power & Light", "send_customer_followup",
         "Discussion Date typed as ISO text; ampersand in the name", n_workloads=1,
         iso_text_discussion=True),
    Spec("Best For You Organics", "send_customer_followup", ""),
    Spec("A. Datum Corporation", "send_customer_followup", ""),
    Spec("School of Fine Art", "send_customer_followup",
         "2 workloads discussed, none followed up; Ready For Workloads, demoed = no",
         n_workloads=2, followed_up=0, next_workloads="Teams", demoed=False),
    Spec("First Up Consultants", "send_customer_followup", ""),
    # request_queue_move
    Spec("Tailwind Traders", "request_queue_move", "3 workloads, all followed up",
         n_workloads=3),
    Spec("Munson's Pickles and Preserves", "request_queue_move", ""),
    Spec("Northwind Health", "request_queue_move", "region spelled Europe", region="Europe"),
    Spec("Woodgrove Financial", "request_queue_move", "region spelled APAC", region="APAC"),
    Spec("Consolidated Messenger", "request_queue_move", "region spelled AMER", region="AMER"),
    Spec("Contoso Suites", "request_queue_move", "2 workloads", n_workloads=2),
    Spec("Fabrikam Residences", "request_queue_move", ""),
    Spec("Alpine Ski Rentals", "request_queue_move", ""),
    # await_queue_confirmation
    Spec("Baldwin Museum of Science", "await_queue_confirmation", ""),
    Spec("Lakeshore Retail", "await_queue_confirmation", ""),
    Spec("Coho Vineyard", "await_queue_confirmation", "2 workloads", n_workloads=2),
    Spec("Northwind Electric Cars", "await_queue_confirmation", ""),
    Spec("Contoso Flowers", "await_queue_confirmation", "Next Service Status = Migration",
         service_status_next="Migration"),
    Spec("Litware Health", "await_queue_confirmation", ""),
    # unassign_fm
    Spec("The Phone Company", "unassign_fm", ""),
    Spec("Woodgrove Insurance", "unassign_fm",
         "queue requested in 2025 (Next Action Date 2026-12-31)", requested_year=2025),
    Spec("Proseware Health", "unassign_fm", "Next Service Status = Migration",
         service_status_next="Migration"),
    Spec("Tailspin Airlines", "unassign_fm", "2 workloads", n_workloads=2),
    Spec("Fabrikam Energy", "unassign_fm", ""),
    Spec("Adventure Works Outdoors", "unassign_fm", ""),
    # invalid: one problem each, otherwise a send_atu tenant
    Spec("Southridge Expeditions", "invalid", "unknown region \"Antarctica\"",
         region="Antarctica", n_workloads=1),
    Spec("Lucerne Books", "invalid", "bad address in Customer Contacts", bad_contact=True,
         n_workloads=1),
    Spec("Humongous Logistics", "invalid", "two rows disagree on Seats (2500 vs 2400)",
         n_workloads=2, seats_rows=(2500, 2400), active=300),
    Spec("Nod Studios", "invalid", "Seats is \"lots\"", seats_rows=("lots",), active=150,
         n_workloads=1),
)


@dataclass
class Tenant:
    """A tenant as written: one dict per row, header → cell value."""

    spec: Spec
    tenant_id: str
    rows: list[dict[str, Any]] = field(default_factory=list)


def tenant_guid(customer: str) -> str:
    """A stable fake Tenant ID derived from the customer name."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"https://ftc-office.example/tenant/{customer}"))


def customer_domain(customer: str, rng: random.Random) -> str:
    """The customer's own (reserved, fake) mail domain."""
    slug = re.sub(r"[^a-z0-9]+", "", customer.lower().replace("&", "and"))
    return f"{slug}.{rng.choice(('example', 'example', 'example', 'test'))}"


def _join(addresses: Sequence[str], rng: random.Random) -> str:
    return rng.choice(("; ", ";", ", ", "\n")).join(addresses)


def _eligible_numbers(rng: random.Random) -> tuple[int, int]:
    seats = rng.choice((150, 300, 420, 750, 1200, 2500, 5000, 12000, 40000))
    if seats >= 1000:
        return seats, rng.randint(100, seats * 6 // 10)
    return seats, rng.randint(-(-seats // 10), seats * 8 // 10)


def _ineligible_numbers(rng: random.Random) -> tuple[int, int]:
    seats = rng.choice((200, 600, 950, 1500, 3000, 9000))
    limit = 99 if seats >= 1000 else -(-seats // 10) - 1
    return seats, rng.randint(0, limit)


def build_tenants(rng: random.Random) -> list[Tenant]:
    """Turn ``SPECS`` into rows whose cells put each tenant on its intended plan step."""
    tenants: list[Tenant] = []
    for i, spec in enumerate(SPECS):
        step = spec.step
        yes, no = rng.choice(YESNO_FORMS)
        n = spec.n_workloads or rng.choices((1, 2, 3), weights=(45, 35, 20))[0]
        workloads = rng.sample(WORKLOADS, n)
        if spec.seats is not None:
            seats, active = spec.seats, spec.active if spec.active is not None else 0
        elif step == "not_eligible":
            seats, active = _ineligible_numbers(rng)
        else:
            seats, active = _eligible_numbers(rng)
            if spec.active is not None:
                active = spec.active
        if spec.blockers is None:
            blockers_yes = step != "not_eligible" and rng.random() < 0.2
            blockers: Any = yes if blockers_yes else rng.choice((no, None))
        else:
            blockers = yes if spec.blockers else no
        region_key = rng.choice(sorted(REGION_SPELLINGS))
        region = spec.region or rng.choice(REGION_SPELLINGS[region_key])
        if spec.region:
            region_key = next((k for k, v in REGION_SPELLINGS.items() if spec.region in v), "")
        fm = FMS[i % len(FMS)]
        team = (_join([f"{p}@microsoft.com" for p in rng.sample(ATU_PEOPLE, rng.randint(1, 3))],
                      rng) if spec.account_team else None)
        domain = customer_domain(spec.customer, rng)
        contacts_list = [f"{p}@{domain}" for p in rng.sample(CONTACT_PEOPLE, rng.randint(1, 2))]
        if spec.bad_contact:
            contacts_list.append(f"helpdesk at {domain}")
        contacts = _join(contacts_list, rng)
        partner = rng.choice(PARTNERS) or None

        # the timeline: workloads onboarded a few days apart, all before AS_OF
        year = spec.requested_year or AS_OF.year
        base = date(year, 4, 1) + timedelta(days=rng.randint(0, 130))
        atu = [base + timedelta(days=k * rng.randint(0, 10)) for k in range(n)]
        disc = [d + timedelta(days=rng.randint(7, 35)) for d in atu]
        mail = [d + timedelta(days=rng.randint(0, 4)) for d in disc]
        order = STEPS.index(step)
        done_atu = [order >= STEPS.index("await_discussion")] * n
        done_disc = [order >= STEPS.index("send_customer_followup")] * n
        done_mail = [order >= STEPS.index("request_queue_move")] * n
        if step == "send_atu" and spec.partial_atu:
            done_atu = [k < n - 1 for k in range(n)]
        if step == "await_discussion":
            f = spec.followed_up if spec.followed_up is not None else rng.randint(0, n - 1)
            done_disc = done_mail = [k < f for k in range(n)]
        if step == "send_customer_followup":
            f = spec.followed_up if spec.followed_up is not None else rng.randint(0, n - 1)
            done_mail = [k < f for k in range(n)]
        tenant_done = order >= STEPS.index("await_queue_confirmation")
        requested = max(mail) + timedelta(days=rng.randint(1, 10))
        confirmed = requested + timedelta(days=rng.randint(2, 14))
        assert confirmed < AS_OF, spec.customer
        status_next = spec.service_status_next or (
            rng.choice(("Adoption", "Adoption", None)) if order >= STEPS.index(
                "request_queue_move") else None)

        tenant = Tenant(spec, tenant_guid(spec.customer))
        for k, workload in enumerate(workloads):
            seats_cell: Any = spec.seats_rows[k] if k < len(spec.seats_rows) else (
                spec.seats_rows[0] if spec.seats_rows else seats)
            discussed = done_disc[k]
            has_next = discussed and bool(spec.next_workloads)
            if discussed and not spec.next_workloads and rng.random() < 0.25:
                next_wl = rng.choice([w for w in WORKLOADS if w not in workloads])
                has_next = True
            else:
                next_wl = spec.next_workloads if has_next else ""
            if spec.demoed is not None and has_next:
                demoed: Any = yes if spec.demoed else no
            elif has_next:
                demoed = yes
            else:
                demoed = rng.choice((no, None)) if discussed else None
            disc_cell: Any = disc[k] if discussed else None
            if discussed and spec.iso_text_discussion:
                disc_cell = disc[k].isoformat()
            row: dict[str, Any] = {
                "Tenant ID": tenant.tenant_id,
                "Customer Name": spec.customer,
                "Workload": workload,
                "Licensed Seats": seats_cell,
                "Active Users": None if spec.active_empty else active,
                "No Technical Blockers": blockers,
                "Region": region,
                "FM": fm,
                "Account Team": team,
                "Account Managed": yes if spec.managed else (no if no is not None else "No"),
                "Customer Contacts": contacts,
                "Partner": partner,
                "Discussion Date": disc_cell,
                "Ready For Workloads": next_wl or None,
                "RFA Form Demoed": demoed if discussed else None,
                "Queue Confirmed": confirmed if step == "unassign_fm" else None,
                "Next Service Status": status_next,
                "Next Steps": rng.choice(NEXT_STEPS) or None,
                "ATU Sent": atu[k] if done_atu[k] else None,
                "Customer Email Sent": mail[k] if done_mail[k] else None,
                "Task 4058 Complete": requested if tenant_done else None,
                "Queue Requested": requested if tenant_done else None,
                "Target Queue": QUEUES.get(region_key) if tenant_done else None,
                "Next Action Date": date(requested.year + 1, 12, 31) if tenant_done else None,
                "FTOP Status": FTOP_DISENGAGED if tenant_done else None,
                "Service Status": None,
                "Comments": rng.choice(COMMENTS) or None,
            }
            tenant.rows.append(row)
        tenants.append(tenant)
    return tenants


def sheet_rows(tenants: list[Tenant], rng: random.Random) -> list[dict[str, Any]]:
    """Tenants in a shuffled order, rows of a tenant together except ``split_rows``."""
    shuffled = list(tenants)
    rng.shuffle(shuffled)
    rows: list[dict[str, Any]] = []
    tail: list[dict[str, Any]] = []
    for t in shuffled:
        if t.spec.split_rows:
            rows.extend(t.rows[:-1])
            tail.append(t.rows[-1])
        else:
            rows.extend(t.rows)
    return rows + tail


def col(header: str) -> str:
    """The column letter of a header in the Tracker table."""
    return get_column_letter(HEADERS.index(header) + 1)


def write_tracker(ws: Worksheet, rows: list[dict[str, Any]]) -> str:
    """Title, header, data, table, dropdowns, conditional formatting; returns the table ref."""
    last_col = get_column_letter(len(COLUMNS))
    last_row = HEADER_ROW + len(rows)
    ws["A1"] = TITLE
    ws["A1"].font = Font(bold=True, size=14, color="1F3864")
    ws.merge_cells("A1:H1")
    ws["A2"] = SUBTITLE
    ws["A2"].font = Font(italic=True, color="595959")
    for c, (header, width, _fmt) in enumerate(COLUMNS, start=1):
        cell = ws.cell(row=HEADER_ROW, column=c, value=header)
        cell.alignment = Alignment(wrap_text=True, vertical="top")
        ws.column_dimensions[get_column_letter(c)].width = width
    ws.row_dimensions[HEADER_ROW].height = 32
    wrap = Alignment(wrap_text=True, vertical="top")
    for r, row in enumerate(rows, start=FIRST_DATA_ROW):
        for c, (header, _width, fmt) in enumerate(COLUMNS, start=1):
            cell = ws.cell(row=r, column=c, value=row[header])
            if fmt and not isinstance(row[header], str):
                cell.number_format = fmt
            if isinstance(row[header], str) and "\n" in row[header]:
                cell.alignment = wrap
    ref = f"A{HEADER_ROW}:{last_col}{last_row}"
    table = Table(displayName=TABLE_NAME, ref=ref)
    table.tableStyleInfo = TableStyleInfo(name="TableStyleMedium2", showRowStripes=True,
                                          showColumnStripes=False, showFirstColumn=False,
                                          showLastColumn=False)
    table.autoFilter = AutoFilter(ref=ref)
    ws.add_table(table)
    ws.freeze_panes = f"C{FIRST_DATA_ROW}"

    def rng_of(header: str) -> str:
        return f"{col(header)}{FIRST_DATA_ROW}:{col(header)}{last_row}"

    region_dv = DataValidation(type="list", formula1='"Americas,AMER,EMEA,Europe,APJ,APAC"',
                               allow_blank=True, errorStyle="warning", showErrorMessage=True,
                               errorTitle="Region", error="Use Americas, EMEA or APJ.")
    region_dv.add(rng_of("Region"))
    yesno_dv = DataValidation(type="list", formula1='"Yes,No"', allow_blank=True,
                              errorStyle="information", showErrorMessage=True)
    for h in ("No Technical Blockers", "Account Managed", "RFA Form Demoed"):
        yesno_dv.add(rng_of(h))
    status_dv = DataValidation(type="list", formula1='"Adoption,Migration"', allow_blank=True)
    status_dv.add(rng_of("Next Service Status"))
    for dv in (region_dv, yesno_dv, status_dv):
        ws.add_data_validation(dv)

    data = f"A{FIRST_DATA_ROW}:{last_col}{last_row}"
    r0 = FIRST_DATA_ROW
    ws.conditional_formatting.add(data, FormulaRule(
        formula=[f'${col("Next Action Date")}{r0}<>""'],
        fill=PatternFill(start_color="E2EFDA", end_color="E2EFDA", fill_type="solid")))
    seats, active = col("Licensed Seats"), col("Active Users")
    ws.conditional_formatting.add(rng_of("Active Users"), FormulaRule(
        formula=[f"AND(ISNUMBER(${seats}{r0}),ISNUMBER(${active}{r0}),"
                 f"${active}{r0}*10<${seats}{r0})"],
        fill=PatternFill(start_color="F8CBAD", end_color="F8CBAD", fill_type="solid"),
        font=Font(color="9C0006")))
    return ref


def write_summary(ws: Worksheet, n_rows: int) -> None:
    """Per-region and per-FM COUNTIFS over the table's columns, with two bar charts."""
    last = HEADER_ROW + n_rows

    def rng_of(header: str) -> str:
        return f"Tracker!${col(header)}${FIRST_DATA_ROW}:${col(header)}${last}"

    ws["A1"] = "Summary (rows, not tenants)"
    ws["A1"].font = Font(bold=True, size=13)
    ws["A2"] = "As of"
    ws["B2"] = AS_OF
    ws["B2"].number_format = "yyyy-mm-dd"
    heads = ("Region", "Rows", "ATU sent", "Queue requested")
    for c, h in enumerate(heads, start=1):
        ws.cell(row=4, column=c, value=h).font = Font(bold=True)
    region, atu, queue = rng_of("Region"), rng_of("ATU Sent"), rng_of("Queue Requested")
    for r, (name, spellings) in enumerate(sorted(REGION_SPELLINGS.items()), start=5):
        ws.cell(row=r, column=1, value=name)
        ws.cell(row=r, column=2, value="=" + "+".join(
            f'COUNTIFS({region},"{s}")' for s in spellings))
        ws.cell(row=r, column=3, value="=" + "+".join(
            f'COUNTIFS({region},"{s}",{atu},"<>")' for s in spellings))
        ws.cell(row=r, column=4, value="=" + "+".join(
            f'COUNTIFS({region},"{s}",{queue},"<>")' for s in spellings))
    ws.cell(row=8, column=1, value="Total").font = Font(bold=True)
    for c in (2, 3, 4):
        letter = get_column_letter(c)
        ws.cell(row=8, column=c, value=f"=SUM({letter}5:{letter}7)").font = Font(bold=True)

    fm, mail = rng_of("FM"), rng_of("Customer Email Sent")
    confirmed = rng_of("Queue Confirmed")
    fm_heads = ("FM", "Rows", "ATU sent", "Customer email sent", "Awaiting confirmation")
    for c, h in enumerate(fm_heads, start=1):
        ws.cell(row=10, column=c, value=h).font = Font(bold=True)
    for r, address in enumerate(FMS, start=11):
        ws.cell(row=r, column=1, value=address)
        ws.cell(row=r, column=2, value=f'=COUNTIFS({fm},A{r})')
        ws.cell(row=r, column=3, value=f'=COUNTIFS({fm},A{r},{atu},"<>")')
        ws.cell(row=r, column=4, value=f'=COUNTIFS({fm},A{r},{mail},"<>")')
        ws.cell(row=r, column=5,
                value=f'=COUNTIFS({fm},A{r},{queue},"<>",{confirmed},"")')
    ws.column_dimensions["A"].width = 30
    for letter in "BCDE":
        ws.column_dimensions[letter].width = 16

    chart = BarChart()
    chart.type = "col"
    chart.title = "Rows per region"
    chart.y_axis.title = "Rows"
    chart.add_data(Reference(ws, min_col=2, max_col=4, min_row=4, max_row=7),
                   titles_from_data=True)
    chart.set_categories(Reference(ws, min_col=1, min_row=5, max_row=7))
    chart.width, chart.height = 16, 7.5
    ws.add_chart(chart, "G2")

    fm_chart = BarChart()
    fm_chart.type = "bar"
    fm_chart.title = "Progress per FM"
    fm_chart.add_data(Reference(ws, min_col=2, max_col=5, min_row=10, max_row=14),
                      titles_from_data=True)
    fm_chart.set_categories(Reference(ws, min_col=1, min_row=11, max_row=14))
    fm_chart.width, fm_chart.height = 16, 7.5
    ws.add_chart(fm_chart, "G18")


def freeze_zip(data: bytes) -> bytes:
    """Pin the zip timestamps and ``dcterms:modified`` (openpyxl stamps ``now`` on save)."""
    stamp = FIXED_TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%SZ")
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, \
            zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            payload = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                payload = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)",
                                 rb"\g<1>" + stamp.encode() + rb"\g<2>", payload)
            fixed = zipfile.ZipInfo(info.filename, date_time=FIXED_TIMESTAMP.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = 0o644 << 16
            dst.writestr(fixed, payload)
    return out.getvalue()


def make_workbook(out: Path) -> list[Tenant]:
    """Build and save the sample; returns the tenants (with their intended steps)."""
    rng = random.Random(SEED)
    tenants = build_tenants(rng)
    rows = sheet_rows(tenants, rng)
    wb = Workbook()
    ws = wb.active
    assert isinstance(ws, Worksheet)
    ws.title = "Tracker"
    write_tracker(ws, rows)
    write_summary(wb.create_sheet("Summary"), len(rows))
    wb.properties.creator = "FTC RFA team"
    wb.properties.lastModifiedBy = "FTC RFA team"
    wb.properties.title = TITLE
    wb.calculation.fullCalcOnLoad = True  # formulas carry no cached values
    wb.properties.created = FIXED_TIMESTAMP
    wb.properties.modified = FIXED_TIMESTAMP
    buffer = io.BytesIO()
    wb.save(buffer)
    out.write_bytes(freeze_zip(buffer.getvalue()))
    return tenants


# --- read-back check -------------------------------------------------------------------------

_YES = {"yes", "y", "true", "1", "x"}


def _yes(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.strip().lower() in _YES)


def _filled(value: Any) -> bool:
    return value not in (None, "")


def classify(rows: list[dict[str, Any]]) -> str:
    """A small independent plan classifier over the cells of one tenant's rows."""
    first = rows[0]
    region_ok = any(first["Region"] in v for v in REGION_SPELLINGS.values())
    seats_values = {r["Licensed Seats"] for r in rows}
    contacts = re.split(r"[;,\n]", first["Customer Contacts"] or "")
    bad_contact = any(c.strip() and not re.fullmatch(r"[^@\s]+@[^@\s]+\.[a-z]+", c.strip())
                      for c in contacts)
    if (not region_ok or len(seats_values) != 1 or bad_contact
            or not isinstance(next(iter(seats_values)), (int, float))):
        return "invalid"
    seats = int(first["Licensed Seats"])
    active = first["Active Users"]
    active = int(active) if isinstance(active, (int, float)) else 0
    eligible = (active >= 100 if seats >= 1000 else active * 10 >= seats) or _yes(
        first["No Technical Blockers"])
    if not eligible:
        return "not_eligible"
    if not all(_filled(r["ATU Sent"]) for r in rows):
        return "send_atu"
    if any(_filled(r["Discussion Date"]) and not _filled(r["Customer Email Sent"])
           for r in rows):
        return "send_customer_followup"
    if not all(_filled(r["Discussion Date"]) for r in rows):
        return "await_discussion"
    if not _filled(first["Queue Requested"]):
        return "request_queue_move"
    if not _filled(first["Queue Confirmed"]):
        return "await_queue_confirmation"
    return "unassign_fm"


def check(path: Path, tenants: list[Tenant]) -> bool:
    """Read the file back (calamine and openpyxl), classify, and print a per-step summary."""
    from openpyxl import load_workbook
    from python_calamine import CalamineWorkbook

    cal = CalamineWorkbook.from_path(str(path))
    print("sheets:", cal.sheet_names)
    grid = cal.get_sheet_by_name("Tracker").to_python()
    header = [str(h) for h in grid[HEADER_ROW - 1]]
    assert tuple(header) == HEADERS, header
    by_tenant: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for values in grid[HEADER_ROW:]:
        row: dict[str, Any] = {k: (None if v == "" else v)
                               for k, v in zip(header, values, strict=True)}
        by_tenant[str(row["Tenant ID"])].append(row)

    wb = load_workbook(path)
    ws = wb["Tracker"]
    table = ws.tables[TABLE_NAME]
    print(f"openpyxl: table {table.displayName} {table.ref} style "
          f"{table.tableStyleInfo.name if table.tableStyleInfo else None}; "
          f"freeze {ws.freeze_panes}; validations {len(ws.data_validations.dataValidation)}; "
          f"conditional formats {len(list(ws.conditional_formatting))}; "
          f"charts on Summary {len(wb['Summary']._charts)}")
    kinds = sorted({type(r["Discussion Date"]).__name__ for t in by_tenant.values() for r in t})
    print(f"calamine: {len(grid) - HEADER_ROW} data rows, {len(by_tenant)} tenants; "
          f"Discussion Date cell types {kinds}")

    ok = True
    per_step: dict[str, list[str]] = defaultdict(list)
    for t in tenants:
        got = classify(by_tenant[t.tenant_id])
        per_step[got].append(t.spec.customer)
        if got != t.spec.step:
            ok = False
            print(f"MISMATCH {t.spec.customer}: intended {t.spec.step}, classified {got}")
    for step in STEPS:
        names = per_step.get(step, [])
        rows = sum(len(by_tenant[tenant_guid(n)]) for n in names)
        print(f"{step:26} {len(names):3} tenants {rows:3} rows  {', '.join(names)}")
    return ok


def main(argv: Sequence[str] | None = None) -> int:
    """Command line: write the sample, optionally check it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", nargs="?", type=Path, default=DEFAULT_OUT)
    parser.add_argument("--check", action="store_true", help="read back and summarise")
    args = parser.parse_args(argv)
    tenants = make_workbook(args.out)
    print(f"wrote {args.out} ({sum(len(t.rows) for t in tenants)} rows, {len(tenants)} tenants)")
    if args.check:
        return 0 if check(args.out, tenants) else 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
