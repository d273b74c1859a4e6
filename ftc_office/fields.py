"""The tracker's columns: field names, headers, aliases, types and levels (docs/DOMAIN.md).

``level`` says whether a field belongs to the tenant (must agree across the tenant's rows)
or to one workload row. Outputs are written by the toolkit; inputs are filled by people.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from ftc_office.values import to_text

Kind = Literal["text", "int", "bool", "date", "addresses", "address", "service_status", "mark"]


@dataclass(frozen=True)
class Field:
    """One tracker column."""

    name: str
    header: str
    aliases: tuple[str, ...]
    kind: Kind
    level: Literal["tenant", "workload"]
    output: bool = False
    required: bool = False


FIELD_LIST: tuple[Field, ...] = (
    Field("tenant_id", "Tenant ID", ("TenantId", "Tenant GUID"), "text", "tenant", required=True),
    Field("customer", "Customer", ("Customer Name", "Tenant Name", "Account Name"), "text",
          "tenant", required=True),
    Field("workload", "Workload", ("Service",), "text", "workload", required=True),
    Field("seats", "Seats", ("Licensed Seats", "Seat Count"), "int", "tenant", required=True),
    Field("active_users", "Active Users", ("Active Usage", "MAU"), "int", "tenant"),
    Field("no_blockers", "No Technical Blockers", ("Customer Confirmed No Blockers",), "bool",
          "tenant"),
    Field("region", "Region", ("Geo",), "text", "tenant", required=True),
    Field("fm_email", "FM", ("FM Email", "FastTrack Manager"), "address", "tenant",
          required=True),
    Field("account_team", "Account Team", ("ATU Contacts", "Account Team Contacts"),
          "addresses", "tenant"),
    Field("account_managed", "Account Managed", ("Managed",), "bool", "tenant"),
    Field("customer_contacts", "Customer Contacts", ("Customer Email",), "addresses", "tenant"),
    Field("discussion_date", "Discussion Date", ("Completion Discussion",), "date", "workload"),
    Field("next_workloads", "Ready For Workloads", ("Additional Workloads",), "text", "workload"),
    Field("rfa_demoed", "RFA Form Demoed", ("Demoed RFA",), "bool", "workload"),
    Field("queue_confirmed", "Queue Confirmed", ("Queue Move Confirmed",), "date", "tenant"),
    Field("service_status_next", "Next Service Status", (), "service_status", "tenant"),
    Field("next_steps", "Next Steps", ("Unique Scenarios",), "text", "workload"),
    # what the customer may read (Next Steps is internal: the Engagement Management note)
    Field("customer_next_steps", "Customer Next Steps",
          ("Next Steps For Customer", "Customer-Facing Next Steps", "Next Steps (Customer)"),
          "text", "workload"),
    # names for greetings and headers, when the address cells carry none
    Field("fm_name", "FM Name", ("FastTrack Manager Name",), "text", "tenant"),
    Field("customer_contact_names", "Customer Contact Name",
          ("Customer Contact Names", "Contact Name", "Contact Names"), "text", "tenant"),
    # outputs
    Field("atu_sent", "ATU Sent", (), "mark", "workload", output=True),
    # why no ATU message went out (the atu_note step): text, so ATU Sent holds only dates
    Field("atu_status", "ATU Status", (), "text", "workload", output=True),
    Field("customer_email_sent", "Customer Email Sent", (), "mark", "workload", output=True),
    Field("task_4058", "Task 4058 Complete", (), "mark", "tenant", output=True),
    Field("queue_requested", "Queue Requested", (), "mark", "tenant", output=True),
    Field("target_queue", "Target Queue", (), "text", "tenant", output=True),
    Field("next_action_date", "Next Action Date", (), "date", "tenant", output=True),
    Field("ftop_status", "FTOP Status", (), "text", "tenant", output=True),
    Field("service_status", "Service Status", (), "text", "tenant", output=True),
    Field("fm_unassigned", "FM Unassigned", (), "mark", "tenant", output=True),
    Field("engagement_note", "Engagement Note", (), "text", "workload", output=True),
)

FIELDS: dict[str, Field] = {f.name: f for f in FIELD_LIST}
OUTPUT_FIELDS: tuple[str, ...] = tuple(f.name for f in FIELD_LIST if f.output)

_NORMALISE = re.compile(r"[\W_]+", re.UNICODE)


@functools.lru_cache(maxsize=4096)
def normalise_header(text: str) -> str:
    """Header matching ignores case, spaces and punctuation."""
    return _NORMALISE.sub("", text).casefold()


def header_index(overrides: dict[str, str]) -> dict[str, str]:
    """Normalised header text → field name, with config overrides taking precedence."""
    index: dict[str, str] = {}
    for f in FIELD_LIST:
        for text in (f.header, *f.aliases):
            index.setdefault(normalise_header(text), f.name)
    for name, text in overrides.items():
        index[normalise_header(text)] = name
    return index


def header_for(name: str, overrides: dict[str, str]) -> str:
    """The header text the toolkit writes for an output field."""
    return overrides.get(name, FIELDS[name].header)


# The Notes sheet the toolkit appends every note to (the reader skips it): an Excel table
# (NOTES_TABLE_STYLE) with a bold header, the date as yyyy-mm-dd, the note wrapped.
NOTES_HEADERS = ["Date", "Tenant ID", "Customer", "Workload", "Step", "Note", "Ledger Key"]
NOTES_WIDTHS = [13.0, 38.0, 28.0, 20.0, 26.0, 80.0, 48.0]
NOTES_TABLE_STYLE = "TableStyleMedium2"
SHEET_NAMES = ("Notes", "FTC Notes")

# What a person calls each step whose note is recorded (the job kinds: the mailers' kinds in
# mailers/*.toml, plus the confirmation and ad-hoc merge), in the Notes sheet's Step column.
STEP_NAMES = {
    "atu": "ATU sent",
    "atu_note": "No ATU (reason recorded)",
    "customer_followup": "Customer follow-up sent",
    "queue_move": "Queue move requested",
    "unassign_fm": "FM unassigned",
    "confirm_queue": "Queue move confirmed",
    "merge": "Mail merge",
}


def step_name(kind: str) -> str:
    """The human name of a step kind (``atu`` → ``ATU sent``); an unknown kind reads as its
    words (``my_step`` → ``My step``)."""
    return STEP_NAMES.get(kind) or kind.replace("_", " ").strip().capitalize()


def is_notes_header(values: Sequence[Any]) -> bool:
    """Whether a first row (values from column A) starts with our headers."""
    got = [to_text(v).strip().casefold() if v is not None else "" for v in
           values[:len(NOTES_HEADERS)]]
    return got == [h.casefold() for h in NOTES_HEADERS]
