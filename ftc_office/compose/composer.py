"""From plans to jobs: each due action becomes a rendered message (or a note-only step),
the cells it stamps, and its note. Nothing is sent or written here.

A job is the unit the ledger tracks: one message key, its content hash, and the stamps that
write-back projects onto the tracker once the message is sent. Milestone, queue and next
action date are read from each tenant's plan.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import css_inline
import jinja2

from ftc_office.addresses import (
    LINE_BREAKS,
    Address,
    AddressError,
    domain_allowed,
    parse_address,
)
from ftc_office.compose.context import message_context, person_name, plan_next_action_date
from ftc_office.compose.queue_sheet import XLSX_MIME, queue_rows_xlsx
from ftc_office.config import Settings
from ftc_office.errors import FtcError, MessageError, Problem, TemplateError
from ftc_office.filenames import attachment_filename
from ftc_office.jobs import (
    Job,
    JobKind,
    Note,
    Stamp,
    StampValue,
    mail_key,
    note_key,
    queue_move_key,
)
from ftc_office.mailers import Mailer, find_template, load_mailers, template_dirs
from ftc_office.message import Attachment, OutgoingMessage
from ftc_office.paths import tracker_id
from ftc_office.playbook import ActionKind, Step, TenantPlan
from ftc_office.rendering.environment import make_environment, one_line, render
from ftc_office.rendering.word import DOCX_MIME, render_docx
from ftc_office.tracker.records import TenantRecord, WorkloadRecord


@dataclass
class Composition:
    """Jobs composed for a run, and the tenants that could not be composed (and why)."""

    jobs: list[Job] = field(default_factory=list)
    failures: list[tuple[TenantRecord, Problem]] = field(default_factory=list)


class Composer:
    """Renders every job of a run with the project's mailers and templates."""

    def __init__(self, settings: Settings, as_of: dt.date) -> None:
        self.settings = settings
        self.as_of = as_of
        self.tdirs = template_dirs(settings)
        self.mailers: dict[str, Mailer] = load_mailers(settings)
        self.text_env = make_environment(self.tdirs, html=False)
        self.html_env = make_environment(self.tdirs, html=True)
        # values in a subject lose their line breaks; the template's own text keeps them
        self.subject_env = make_environment(self.tdirs, html=False, finalize=one_line)
        self.internal = tuple(d.lower() for d in settings.mail.internal_domains)
        self._compiled: dict[str, jinja2.Template] = {}

    # ---- per-tenant jobs -------------------------------------------------------------
    def compose_tenant(self, plan: TenantPlan) -> list[Job]:
        """Jobs for the tenant's due actions (ATU mails or notes, customer follow-ups, the
        FM unassignment), each from the mailer of the action's kind."""
        jobs: list[Job] = []
        for action in plan.actions:
            if action.kind == ActionKind.DISENGAGE:
                continue  # queue moves are composed together, per queue
            m = self.mailers[str(action.kind)]
            if m.sends:
                jobs.append(self._mail_job(m, plan, action.workload))
            else:
                jobs.append(self._note_job(m, plan, action.workload, action.detail))
        return jobs

    def _who(self, t: TenantRecord, w: WorkloadRecord | None) -> str:
        return f"tenant {t.tenant_id} ({t.customer}{', ' + w.name if w else ''})"

    def _render_text(self, name: str, ctx: dict[str, Any], who: str) -> str:
        return render(self.text_env, name, ctx, who)

    def _render_note(self, name: str, ctx: dict[str, Any], who: str) -> str:
        """A note is one cell's text: no trailing newline from the template file."""
        return self._render_text(name, ctx, who).strip()

    def _render_string(self, source: str, ctx: dict[str, Any], who: str) -> str:
        try:
            # compiled once per run: compiling took 2 ms, as long as a whole email body
            template = self._compiled.get(source)
            if template is None:
                template = self._compiled[source] = self.text_env.from_string(source)
            return template.render(ctx)
        except Exception as exc:
            raise TemplateError(source, f"cannot render for {who}: {exc}",
                                "fix the file-name template in the mailer") from None

    def _mail_job(self, m: Mailer, plan: TenantPlan, w: WorkloadRecord | None) -> Job:
        t = plan.tenant
        who = self._who(t, w)
        fm = t.fm
        ctx = message_context(plan, self.as_of, w, {"sender_name": person_name(fm.email)
                                                 if fm else "FastTrack"})
        to = self._recipients(m, m.to, t, "to")
        cc = tuple(a for a in self._recipients(m, m.cc, t, "cc") if a not in to)
        subject = self._subject(m, ctx, who)
        text = self._render_text(m.text, ctx, who)
        html = css_inline.inline(render(self.html_env, m.html, ctx, who))
        atts = tuple(self._attachment(spec, ctx, who, []) for spec in m.attachments)
        key = mail_key(m.kind, t.tenant_id, w.name if w else None, to + cc)
        msg = OutgoingMessage(key=key, kind=m.kind, audience=m.audience, to=to, cc=cc,
                              sender=fm, subject=subject, text=text, html=html,
                              attachments=atts, tenant_ids=(t.tenant_id,),
                              workloads=(w.name,) if w else (), origin=who)
        self.check_audience(msg, t)
        note = self._render_note(m.note, ctx, who) if m.note else ""
        stamps = self._stamps(m.stamps, plan, w, note)
        label = {"atu": "ATU", "customer_followup": "customer follow-up"}.get(m.kind, m.kind)
        summary = (f"{label} for {w.name if w else 'all workloads'} to {len(to)} recipient(s)"
                   f"{f' (+{len(cc)} cc)' if cc else ''}")
        return Job(key, m.kind, (t.tenant_id,), msg, stamps,
                   (Note(t.tenant_id, w.name if w else None, note),), summary)

    def _note_job(self, m: Mailer, plan: TenantPlan, w: WorkloadRecord | None,
                  detail: str) -> Job:
        """A note-only step: the mailer's note rendered and its columns stamped."""
        t = plan.tenant
        who = self._who(t, w)
        values = self._stamp_values(plan, "", detail)
        ctx = message_context(plan, self.as_of, w, {
            "reason": detail, "service_status": values["service_status"],
            # the FTOP status this step writes, if it writes one
            "status": values[m.stamps["ftop_status"]] if "ftop_status" in m.stamps else ""})
        note = self._render_note(m.note, ctx, who)
        stamps = self._stamps(m.stamps, plan, w, note, detail)
        key = note_key(m.kind, t.tenant_id, w.name if w else None)
        return Job(key, m.kind, (t.tenant_id,), None, stamps,
                   (Note(t.tenant_id, w.name if w else None, note),),
                   _note_summary(m, w, detail, values))

    # ---- queue moves -------------------------------------------------------------------
    def compose_queue_moves(self, plans: Sequence[TenantPlan], per_tenant: bool = False
                            ) -> Composition:
        """Disengagement: one queue-move message per target queue (or per tenant)."""
        m = self.mailers["queue_move"]
        out = Composition()
        groups: dict[str, list[TenantPlan]] = {}
        for p in plans:
            if any(a.kind == ActionKind.DISENGAGE for a in p.actions):
                gk = p.tenant.tenant_id if per_tenant else (p.queue or "")
                groups.setdefault(gk, []).append(p)
        for members in groups.values():
            # one tenant that cannot be part of a request (e.g. an FM outside the internal
            # domains, a note that does not render) must not hold back the others
            ok = []
            for p in members:
                try:
                    self._check_queue_member(m, p)
                except FtcError as exc:
                    out.failures.append((p.tenant, exc.problem))
                else:
                    ok.append(p)
            if not ok:
                continue
            try:
                out.jobs.append(self._queue_job(m, ok))
            except FtcError as exc:
                for p in ok:
                    out.failures.append((p.tenant, exc.problem))
        return out

    def _check_queue_member(self, m: Mailer, p: TenantPlan) -> None:
        """What one tenant brings to a queue-move request: its cc and its note."""
        who = self._who(p.tenant, None)
        cc = self._recipients(m, m.cc, p.tenant, "cc")
        self._check_internal(cc, who)
        if m.note:
            status = self.settings.ftop.status_disengaged
            self._render_note(m.note, message_context(p, self.as_of, None,
                                                      {"status": status}), who)

    def _queue_job(self, m: Mailer, members: list[TenantPlan]) -> Job:
        queue = members[0].queue or ""
        nad = plan_next_action_date(members[0], self.as_of)
        rows: list[dict[str, Any]] = [{
            "tenant_id": p.tenant.tenant_id, "customer": p.tenant.customer, "queue": queue,
            "fm": p.tenant.fm.email if p.tenant.fm else "",
            "workloads": ", ".join(w.name for w in p.tenant.workloads),
            "disengaged": self.as_of, "next_action_date": plan_next_action_date(p, self.as_of),
        } for p in members]
        fms = sorted({str(r["fm"]) for r in rows if r["fm"]})
        sender_text = self.settings.mail.sender or (fms[0] if len(fms) == 1 else "")
        sender = parse_address(sender_text) if sender_text else None
        ctx: dict[str, Any] = {"queue": queue, "rows": rows, "as_of": self.as_of,
                               "next_action_date": nad,
                               "sender_name": person_name(sender.email) if sender else
                               "the FastTrack team"}
        who = f"queue move to {queue} ({len(rows)} tenant(s))"
        to = self._recipients(m, m.to, members[0].tenant, "to")
        cc_all: list[Address] = []
        for p in members:
            for a in self._recipients(m, m.cc, p.tenant, "cc"):
                if a not in cc_all and a not in to:
                    cc_all.append(a)
        subject = self._subject(m, ctx, who)
        text = self._render_text(m.text, ctx, who)
        html = css_inline.inline(render(self.html_env, m.html, ctx, who))
        ids = tuple(p.tenant.tenant_id for p in members)
        key = queue_move_key(queue, self.as_of, ids)
        atts = tuple(self._attachment(spec, ctx, who, rows, key) for spec in m.attachments)
        msg = OutgoingMessage(key=key, kind=m.kind, audience=m.audience, to=to,
                              cc=tuple(cc_all), sender=sender, subject=subject, text=text,
                              html=html, attachments=atts, tenant_ids=ids, origin=who)
        self.check_audience(msg, None)
        stamps: list[Stamp] = []
        notes: list[Note] = []
        status = self.settings.ftop.status_disengaged
        for p in members:
            tctx = message_context(p, self.as_of, None, {"status": status})
            note = self._render_note(m.note, tctx, self._who(p.tenant, None)) if m.note else ""
            stamps.extend(self._stamps(m.stamps, p, None, note))
            notes.append(Note(p.tenant.tenant_id, None, note))
        summary = (f"queue-move request to {queue} for {len(ids)} tenant(s) "
                   f"(set Next Action Date = {nad.isoformat()})")
        return Job(key, m.kind, ids, msg, tuple(stamps), tuple(notes), summary)

    # ---- pieces ------------------------------------------------------------------------
    def _subject(self, m: Mailer, ctx: dict[str, Any], who: str) -> str:
        subject = render(self.subject_env, m.subject, ctx, who).strip()
        if LINE_BREAKS.search(subject):
            raise TemplateError(m.subject, f"the subject renders to several lines for {who}",
                                "keep the subject template on one line")
        return subject

    def _recipients(self, m: Mailer, sources: tuple[str, ...], t: TenantRecord, role: str
                    ) -> tuple[Address, ...]:
        out: list[Address] = []
        for src in sources:
            if src == "account_team":
                found = t.account_team
            elif src == "customer_contacts":
                found = t.customer_contacts
            elif src == "fm":
                if not self.settings.mail.cc_fm and role == "cc":
                    continue
                found = (t.fm,) if t.fm else ()
            else:
                try:
                    found = (parse_address(self.settings.mail.assignment_team),)
                except AddressError as exc:
                    where = str(self.settings.source or "config")
                    raise MessageError(f"{where}, key mail.assignment_team", str(exc),
                                       "set a valid assignment team address") from None
            if role == "to" and not found and src != "fm":
                raise MessageError(t.where(src), f"no {src.replace('_', ' ')} to send the "
                                   f"{m.kind.replace('_', ' ')} message to",
                                   "fill the column with at least one address")
            out.extend(a for a in found if a not in out)
        return tuple(out)

    def _attachment(self, spec: Any, ctx: dict[str, Any], who: str,
                    rows: list[dict[str, Any]], key: str = "") -> Attachment:
        name = attachment_filename(self._render_string(spec.filename, ctx, who))
        if spec.builtin == "queue_rows_xlsx":
            return Attachment(name, queue_rows_xlsx(rows, self.as_of, key), XLSX_MIME)
        path = find_template(spec.template, self.tdirs)
        if path is None:
            raise TemplateError(spec.template, "Word template not found",
                                "check the mailer's attachments and the templates folders")
        return Attachment(name, render_docx(path, ctx, who), DOCX_MIME)

    def _stamp_values(self, plan: TenantPlan, note: str, detail: str
                      ) -> dict[str, StampValue]:
        """What each stamp source of a mailer (``[stamps]``) writes for this plan."""
        return {
            "as_of": self.as_of, "note": note, "queue": plan.queue or "",
            "next_action_date": plan_next_action_date(plan, self.as_of),
            "status_disengaged": self.settings.ftop.status_disengaged,
            "status_closed": self.settings.ftop.status_closed,
            "service_status": plan.tenant.service_status_next
            or self.settings.ftop.default_service_status,
            "not_sent": f"No ATU ({self.as_of.isoformat()}): {detail}",
        }

    def _stamps(self, spec: dict[str, str], plan: TenantPlan, w: WorkloadRecord | None,
                note: str, detail: str = "") -> tuple[Stamp, ...]:
        t = plan.tenant
        values = self._stamp_values(plan, note, detail)
        tracker = tracker_id(t.source.path)
        return tuple(Stamp(tracker, t.tenant_id, w.name if w else None, col, values[src])
                     for col, src in spec.items())

    def _check_internal(self, addresses: Sequence[Address], where: str) -> None:
        for a in addresses:
            if not domain_allowed(a, self.internal):
                raise MessageError(where, f"internal message addressed to {a.email}, "
                                   "outside the internal domains",
                                   "fix the address in the tracker, or add the domain to "
                                   "mail.internal_domains in ftc-office.toml")

    def check_audience(self, msg: OutgoingMessage, t: TenantRecord | None) -> None:
        """Audiences are bound (docs/DOMAIN.md): internal mail only to internal domains; a customer
        message only to that one tenant's own contacts, plus the FM."""
        where = msg.origin or msg.key
        if msg.audience == "internal":
            self._check_internal(msg.recipients, where)
            return
        if t is None or len(msg.tenant_ids) != 1:
            raise MessageError(where, "a customer message must belong to exactly one tenant",
                               "report this as a bug")
        allowed = set(t.customer_contacts)
        fm = t.fm
        for a in msg.to:
            if a not in allowed:
                raise MessageError(where, f"{a.email} is not one of this tenant's customer "
                                   "contacts", "check the Customer Contacts column")
        for a in msg.cc:
            if a != fm and a not in allowed:
                raise MessageError(where, f"{a.email} may not be copied on a customer message",
                                   "only the FM is copied")


def compose_all(composer: Composer, plans: Sequence[TenantPlan], per_tenant: bool = False,
                tenant_steps: bool = True, queue_moves: bool = True) -> Composition:
    """Compose every due job; a tenant that fails to compose does not stop the others."""
    out = Composition()
    for p in plans if tenant_steps else ():
        try:
            out.jobs.extend(composer.compose_tenant(p))
        except FtcError as exc:
            out.failures.append((p.tenant, exc.problem))
    if not queue_moves:
        return out
    failed = {t.tenant_id for t, _ in out.failures}
    moves = composer.compose_queue_moves([p for p in plans if p.tenant.tenant_id not in failed],
                                         per_tenant)
    out.jobs.extend(moves.jobs)
    out.failures.extend(moves.failures)
    return out


def tenant_batches(composer: Composer, plans: Sequence[TenantPlan]) -> Iterator[Composition]:
    """The per-tenant jobs (ATU, notes, follow-ups, unassignment), one tenant at a time, so
    only the current tenant's messages are held in memory."""
    for p in plans:
        if p.actions and p.step != Step.REQUEST_QUEUE_MOVE:
            yield compose_all(composer, [p], queue_moves=False)


def queue_move_batch(composer: Composer, plans: Sequence[TenantPlan], per_tenant: bool
                     ) -> Composition:
    """The queue-move messages for every tenant whose disengagement is due."""
    due = [p for p in plans if p.step == Step.REQUEST_QUEUE_MOVE]
    return compose_all(composer, due, per_tenant, tenant_steps=False)


def _note_summary(m: Mailer, w: WorkloadRecord | None, detail: str,
                  values: dict[str, StampValue]) -> str:
    """What the run summary says a note-only step does."""
    if m.kind == JobKind.ATU_NOTE:
        return f"record a note instead of the ATU for {w.name if w else 'all'}: {detail}"
    if m.kind == JobKind.UNASSIGN_FM:
        return (f"unassign the FM, set FTOP Status = {values['status_closed']!r}, "
                f"Service Status = {values['service_status']}")
    return f"{m.description or m.kind}{' for ' + w.name if w else ''}"
