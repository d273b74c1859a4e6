"""Mailers: one declarative TOML file per mail kind (what is sent, to whom, what it stamps).

A mailer is validated when loaded — unknown keys, unknown recipient or stamp sources,
unknown output columns and missing templates are errors before any row is processed. Built-in
mailers ship inside the package; a project's ``paths.mailers`` folder overrides them by name.
"""

from __future__ import annotations

import difflib
import tomllib
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any, Literal

from ftc_office.config import Settings
from ftc_office.errors import TemplateError
from ftc_office.fields import FIELDS, OUTPUT_FIELDS

RECIPIENT_SOURCES = ("account_team", "customer_contacts", "fm", "assignment_team")
STAMP_SOURCES = ("as_of", "note", "queue", "next_action_date", "status_disengaged",
                 "status_closed", "service_status", "not_sent")
KEYS = ("kind", "description", "audience", "per", "to", "cc", "subject", "html", "text",
        "note", "attachments", "stamps")
ATTACHMENT_KEYS = ("template", "builtin", "filename")
BUILTIN_ATTACHMENTS = ("queue_rows_xlsx",)
# Every step of the playbook that writes something is a mailer kind; its value is the
# granularity the playbook gives it (`per` in the file must say the same). A note-only kind
# (audience = "none") sends nothing: it renders its note and stamps its columns.
PLAYBOOK_KINDS = {"atu": "workload", "atu_note": "workload", "customer_followup": "workload",
                  "queue_move": "queue", "unassign_fm": "tenant"}
BUILTIN_KINDS = tuple(PLAYBOOK_KINDS)
MAIL_ONLY_KEYS = ("to", "cc", "subject", "html", "text", "attachments")


@dataclass(frozen=True)
class AttachmentSpec:
    """A Word template (docxtpl) or a built-in generated file, and its file-name template."""

    filename: str
    template: str = ""
    builtin: str = ""


@dataclass(frozen=True)
class Mailer:
    """One mail kind, as declared in ``mailers/<kind>.toml``."""

    kind: str
    description: str  # for the people reading the file
    audience: Literal["internal", "customer", "none"]
    per: Literal["workload", "tenant", "queue"]
    to: tuple[str, ...]
    cc: tuple[str, ...]
    subject: str
    html: str
    text: str
    note: str
    attachments: tuple[AttachmentSpec, ...]
    stamps: dict[str, str]
    source: Path

    @property
    def sends(self) -> bool:
        """False for a note-only kind (audience "none"): nothing is sent."""
        return self.audience != "none"


def mail_kinds(mailers: dict[str, Mailer]) -> tuple[str, ...]:
    """The kinds that send a message (what `ftc-office send` carries out)."""
    return tuple(k for k, m in mailers.items() if m.sends)


def builtin_root() -> Path:
    """The folder holding the built-in ``templates/`` and ``mailers/``.

    In a wheel they are packaged as ``ftc_office/_builtin``; in a source checkout (editable
    install) they are the repository's top-level folders.
    """
    packaged = Path(str(resources.files("ftc_office"))) / "_builtin"
    if (packaged / "mailers").is_dir():
        return packaged
    return Path(__file__).resolve().parent.parent


def _search_path(settings: Settings, configured: str, builtin: str) -> list[Path]:
    """The project's override folder (when configured) first, then the built-in one."""
    dirs = [settings.resolve_path(configured)] if configured else []
    return [*dirs, builtin_root() / builtin]


def template_dirs(settings: Settings) -> list[Path]:
    """Template search path: the project's override folder first, then the built-ins."""
    return _search_path(settings, settings.paths.templates, "templates")


def mailer_dirs(settings: Settings) -> list[Path]:
    """Mailer search path: the project's override folder first, then the built-ins."""
    return _search_path(settings, settings.paths.mailers, "mailers")


def find_template(name: str, dirs: list[Path]) -> Path | None:
    """The first file called `name` in the search path `dirs`, or None."""
    for d in dirs:
        p = d / name
        if p.is_file():
            return p
    return None


def load_mailer(path: Path, tdirs: list[Path]) -> Mailer:
    """Load and validate one mailer file."""
    where = str(path)
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8-sig"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise TemplateError(where, f"cannot read the mailer ({exc})",
                            "fix the TOML syntax at that line") from None
    _known(data, KEYS, where, "")
    _check_shape(data, where)
    audience, per, to, cc = _audience(data, where)
    atts = _attachments(data.get("attachments", []), where)
    stamps = data.get("stamps", {})
    _check_stamps(stamps, where)
    mailer = Mailer(
        kind=str(data["kind"]), description=str(data.get("description", "")),
        audience=audience, per=per, to=to, cc=cc, subject=data.get("subject", ""),
        html=data.get("html", ""), text=data.get("text", ""), note=data.get("note", ""),
        attachments=tuple(atts), stamps=dict(stamps), source=path)
    for name in [mailer.subject, mailer.html, mailer.text, mailer.note,
                 *(a.template for a in atts)]:
        if name and find_template(name, tdirs) is None:
            raise TemplateError(f"{where}", f"template {name!r} not found",
                                "create it in your templates folder or fix the name; searched "
                                + ", ".join(str(d) for d in tdirs))
    return mailer


def _check_shape(data: dict[str, Any], where: str) -> None:
    """A playbook kind, at the playbook's granularity; a message kind has its templates, a
    note-only kind (audience "none") has a note and none of a message's keys."""
    for key in ("kind", "audience", "per"):
        if key not in data:
            raise TemplateError(where, f"missing key '{key}'",
                                "add it; see the built-in mailers for an example")
    kind, per = str(data["kind"]), data["per"]
    if kind not in PLAYBOOK_KINDS:
        raise TemplateError(f"{where}, key kind", f"{kind!r} is not a step of the playbook",
                            f"use one of {', '.join(PLAYBOOK_KINDS)} (for other mailings, "
                            "use 'ftc-office merge')")
    if per != PLAYBOOK_KINDS[kind]:
        raise TemplateError(f"{where}, key per", f"the playbook sends {kind} per "
                            f"{PLAYBOOK_KINDS[kind]}, not per {per}",
                            f"write per = \"{PLAYBOOK_KINDS[kind]}\"")
    needed = ("note",) if data["audience"] == "none" else ("to", "subject", "html", "text")
    for key in needed:
        if key not in data:
            raise TemplateError(where, f"missing key '{key}'",
                                "add it; see the built-in mailers for an example")
    extra = [k for k in MAIL_ONLY_KEYS if k in data] if data["audience"] == "none" else []
    if extra:
        raise TemplateError(f"{where}, key {extra[0]}", "a note-only kind (audience = "
                            "\"none\") sends nothing", f"remove {', '.join(extra)}")


def _audience(data: dict[str, Any], where: str
              ) -> tuple[Literal["internal", "customer", "none"],
                         Literal["workload", "tenant", "queue"],
                         tuple[str, ...], tuple[str, ...]]:
    """audience, per, to and cc of a mailer, checked (no internal list on a customer
    message, no customer contact on an internal one)."""
    audience = data["audience"]
    if audience not in ("internal", "customer", "none"):
        raise TemplateError(f"{where}, key audience", f"{audience!r} is not an audience",
                            "use 'internal', 'customer' or 'none' (a note-only kind)")
    per = data["per"]  # checked against the playbook by _check_shape
    to = _sources(data.get("to", []), where, "to")
    cc = _sources(data.get("cc", []), where, "cc")
    if audience == "customer" and any(s in ("account_team", "assignment_team") for s in to + cc):
        raise TemplateError(f"{where}, key to", "a customer message may not go to internal "
                            "lists", "send to customer_contacts (cc fm)")
    if audience == "internal" and "customer_contacts" in to + cc:
        raise TemplateError(f"{where}, key to", "an internal message may not go to customer "
                            "contacts", "remove customer_contacts, or set audience = 'customer'")
    return audience, per, to, cc


def _attachments(items: list[Any], where: str) -> list[AttachmentSpec]:
    """The ``[[attachments]]`` of a mailer, checked."""
    atts = []
    for i, att in enumerate(items):
        if not isinstance(att, dict):
            raise TemplateError(f"{where}, attachments[{i}]", "expected a table",
                                "write [[attachments]] with template and filename")
        _known(att, ATTACHMENT_KEYS, where, f"attachments[{i}].")
        if "filename" not in att or not ("template" in att) ^ ("builtin" in att):
            raise TemplateError(f"{where}, attachments[{i}]",
                                "needs a filename and exactly one of template / builtin",
                                "see the built-in mailers")
        if att.get("builtin") and att["builtin"] not in BUILTIN_ATTACHMENTS:
            raise TemplateError(f"{where}, attachments[{i}].builtin",
                                f"unknown builtin {att['builtin']!r}",
                                f"use one of {', '.join(BUILTIN_ATTACHMENTS)}")
        atts.append(AttachmentSpec(att["filename"], att.get("template", ""),
                                   att.get("builtin", "")))
    return atts


def _check_stamps(stamps: dict[str, Any], where: str) -> None:
    """Every stamp writes an output column from a known value source."""
    for col, src in stamps.items():
        if col not in OUTPUT_FIELDS:
            raise TemplateError(f"{where}, stamps.{col}", "not an output column",
                                _nearest(col, OUTPUT_FIELDS))
        if src not in STAMP_SOURCES:
            raise TemplateError(f"{where}, stamps.{col}", f"unknown value source {src!r}",
                                _nearest(src, STAMP_SOURCES))


def load_mailers(settings: Settings) -> dict[str, Mailer]:
    """Every mailer by kind (project overrides first); the built-in kinds must exist."""
    tdirs = template_dirs(settings)
    found: dict[str, Mailer] = {}
    for d in mailer_dirs(settings):
        if not d.is_dir():
            continue
        for path in sorted(d.glob("*.toml")):
            if path.stem in found:
                continue
            m = load_mailer(path, tdirs)
            if m.kind != path.stem:
                raise TemplateError(f"{path}, key kind", f"kind {m.kind!r} differs from the "
                                    f"file name", f"name the file {m.kind}.toml")
            found[m.kind] = m
    for kind in BUILTIN_KINDS:
        if kind not in found:
            raise TemplateError(" / ".join(map(str, mailer_dirs(settings))),
                                f"no mailer '{kind}'", f"restore {kind}.toml")
    return found


def _known(data: dict[str, Any], keys: tuple[str, ...], where: str, prefix: str) -> None:
    for key in data:
        if key not in keys:
            raise TemplateError(f"{where}, key {prefix}{key}", "unknown key",
                                _nearest(key, keys))


def _sources(values: Any, where: str, key: str) -> tuple[str, ...]:
    if not isinstance(values, list) or not all(isinstance(v, str) for v in values):
        raise TemplateError(f"{where}, key {key}", "expected a list of recipient sources",
                            f"e.g. {key} = [\"account_team\"]")
    for v in values:
        if v not in RECIPIENT_SOURCES:
            raise TemplateError(f"{where}, key {key}", f"unknown recipient source {v!r}",
                                _nearest(v, RECIPIENT_SOURCES))
    return tuple(values)


def _nearest(value: str, choices: tuple[str, ...]) -> str:
    near = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.5)
    return f"did you mean '{near[0]}'?" if near else "use one of: " + ", ".join(choices)


assert set(OUTPUT_FIELDS) <= set(FIELDS)
