"""From plans to jobs: each due action becomes a rendered message (or a note-only step),
the cells it stamps, and its note. Nothing is sent or written here.

A job is the unit the ledger tracks: one message key, its content hash, and the stamps that
write-back projects onto the tracker once the message is sent. Milestone, queue and next
action date are read from each tenant's plan.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import css_inline
import jinja2

from ftc_office.addresses import LINE_BREAKS, Address, AddressError, parse_address
from ftc_office.compose.audience import check_customer_mailer, check_internal, check_recipients
from ftc_office.compose.context import message_context, plan_next_action_date
from ftc_office.compose.html_size import fit_listing
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
from ftc_office.names import Directory, TenantPeople, split_names
from ftc_office.paths import tracker_id
from ftc_office.playbook import NO_ATU, ActionKind, TenantPlan
from ftc_office.rendering.environment import make_environment, one_line, render
from ftc_office.steps import Step
from ftc_office.tracker.records import TenantRecord, WorkloadRecord


@dataclass(frozen=True)
class _Member:
    """One tenant of a queue-move request, as checked: its people, cc and note."""

    plan: TenantPlan
    people: TenantPeople
    cc: tuple[Address, ...]
    note: str


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
        self.directory = Directory(settings.people)
        self._compiled: dict[str, jinja2.Template] = {}
        self._tracker_ids: dict[Path, str] = {}  # tracker path -> the ledger's name for it
        for m in self.mailers.values():
            if m.audience == "customer":
                check_customer_mailer(m, self.text_env, self.tdirs)

    def people(self, t: TenantRecord) -> TenantPeople:
        """The tenant's FM, account team and contacts, named from the cells, the tracker's
        name columns or ``[people]`` — never from the address itself."""
        d = self.directory
        return TenantPeople(
            fm=d.name(t.fm, t.fm_name) if t.fm else None,
            account_team=d.names(t.account_team),
            customer_contacts=d.names(t.customer_contacts,
                                      split_names(t.customer_contact_names)))

    # ---- per-tenant jobs -------------------------------------------------------------
    def compose_tenant(self, plan: TenantPlan) -> list[Job]:
        """Jobs for the tenant's due actions (ATU mails or notes, customer follow-ups, the
        FM unassignment), each from the mailer of the action's kind. The workloads due for
        one kind of message in one run share one message (same recipients, one Word file)."""
        people = self.people(plan.tenant)
        slots: dict[str, list[WorkloadRecord]] = {}
        jobs: list[Job | str] = []
        for action in plan.actions:
            if action.kind == ActionKind.DISENGAGE:
                continue  # queue moves are composed together, per queue
            m = self.mailers[str(action.kind)]
            if not m.sends:
                jobs.append(self._note_job(m, plan, action.workload, action.detail, people))
                continue
            if m.kind not in slots:
                slots[m.kind] = []
                jobs.append(m.kind)  # the message takes the place of its first action
            if action.workload is not None:
                slots[m.kind].append(action.workload)
        return [self._mail_job(self.mailers[j], plan, slots[j], people)
                if isinstance(j, str) else j for j in jobs]

    def _who(self, t: TenantRecord, w: WorkloadRecord | Sequence[WorkloadRecord] | None
             ) -> str:
        names = [w.name] if isinstance(w, WorkloadRecord) else [x.name for x in w or ()]
        return f"tenant {t.tenant_id} ({', '.join([t.customer, *names])})"

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

    def _mail_job(self, m: Mailer, plan: TenantPlan, wls: list[WorkloadRecord],
                  people: TenantPeople) -> Job:
        """One message covering the workloads ``wls`` (none for a per-tenant mailer)."""
        t = plan.tenant
        who = self._who(t, wls)
        ctx = message_context(plan, self.as_of, wls, people, m.audience)
        to = self._recipients(m, m.to, t, "to", people)
        cc = tuple(a for a in self._recipients(m, m.cc, t, "cc", people) if a not in to)
        subject = self._subject(m, ctx, who)
        text = self._render_text(m.text, ctx, who)
        html = css_inline.inline(render(self.html_env, m.html, ctx, who))
        atts = tuple(self._attachment(spec, ctx, who, []) for spec in m.attachments)
        key = mail_key(m.kind, t.tenant_id, workloads_part(wls), to + cc)
        msg = OutgoingMessage(key=key, kind=m.kind, audience=m.audience, to=to, cc=cc,
                              sender=people.fm, subject=subject, text=text, html=html,
                              attachments=atts, tenant_ids=(t.tenant_id,),
                              workloads=tuple(w.name for w in wls), origin=who)
        check_recipients(msg, t, self.internal)
        stamps: list[Stamp] = []
        notes: list[Note] = []
        targets: list[WorkloadRecord | None] = [*wls] or [None]  # None: a per-tenant mailer
        for w in targets:
            wctx = message_context(plan, self.as_of, [w] if w else [], people)
            note = self._render_note(m.note, wctx, who) if m.note else ""
            stamps.extend(self._stamps(m.stamps, plan, w, note))
            notes.append(Note(t.tenant_id, w.name if w else None, note))
        label = {"atu": "ATU", "customer_followup": "customer follow-up"}.get(m.kind, m.kind)
        names = ", ".join(w.name for w in wls) or "all workloads"
        summary = (f"{label} for {names} to {', '.join(a.email for a in to)}"
                   f"{' (cc ' + ', '.join(a.email for a in cc) + ')' if cc else ''}")
        return Job(key, m.kind, (t.tenant_id,), msg, tuple(stamps), tuple(notes), summary,
                   warnings=self._warnings(m, wls))

    def _warnings(self, m: Mailer, wls: Sequence[WorkloadRecord]) -> tuple[str, ...]:
        """What the FM should look at before this message goes: a follow-up for a
        discussion held long ago."""
        out = []
        for w in wls:
            d = w.discussion_date
            if m.kind == JobKind.CUSTOMER_FOLLOWUP and d and (self.as_of - d).days > STALE_DAYS:
                out.append(f"{w.name}: the completion discussion was on {d.isoformat()}, "
                           f"{(self.as_of - d).days} days before {self.as_of.isoformat()}; "
                           "check the follow-up still fits")
        return tuple(out)

    def _note_job(self, m: Mailer, plan: TenantPlan, w: WorkloadRecord | None,
                  detail: str, people: TenantPeople) -> Job:
        """A note-only step: the mailer's note rendered and its columns stamped."""
        t = plan.tenant
        who = self._who(t, w)
        values = self._stamp_values(plan, "", detail)
        ctx = message_context(plan, self.as_of, [w] if w else [], people, extra={
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
        groups: dict[tuple[str, str], list[TenantPlan]] = {}
        for p in plans:
            if any(a.kind == ActionKind.DISENGAGE for a in p.actions):
                # without a configured sender each FM requests their own tenants' moves, so
                # every request has a From: (its FM)
                fm = "" if self.settings.mail.sender or not p.tenant.fm else p.tenant.fm.email
                gk = p.tenant.tenant_id if per_tenant else (p.queue or "")
                groups.setdefault((gk, fm), []).append(p)
        for members in groups.values():
            # one tenant that cannot be part of a request (e.g. an FM outside the internal
            # domains, a note that does not render) must not hold back the others
            ok: list[_Member] = []
            for p in members:
                try:
                    ok.append(self._queue_member(m, p))
                except FtcError as exc:
                    out.failures.append((p.tenant, exc.problem))
            if not ok:
                continue
            try:
                out.jobs.append(self._queue_job(m, ok))
            except FtcError as exc:
                for member in ok:
                    out.failures.append((member.plan.tenant, exc.problem))
        return out

    def _queue_member(self, m: Mailer, p: TenantPlan) -> _Member:
        """What one tenant brings to a queue-move request: its people, its cc (checked)
        and its note (rendered), each made once."""
        who = self._who(p.tenant, None)
        people = self.people(p.tenant)
        cc = self._recipients(m, m.cc, p.tenant, "cc", people)
        check_internal(cc, self.internal, who)
        note = ""
        if m.note:
            status = self.settings.ftop.status_disengaged
            note = self._render_note(m.note, message_context(p, self.as_of, [], people,
                                                             extra={"status": status}), who)
        return _Member(p, people, cc, note)

    def _queue_job(self, m: Mailer, checked: list[_Member]) -> Job:
        members = [c.plan for c in checked]
        queue = members[0].queue or ""
        nad = plan_next_action_date(members[0], self.as_of)
        rows: list[dict[str, Any]] = [{
            "tenant_id": p.tenant.tenant_id, "customer": p.tenant.customer, "queue": queue,
            "fm": p.tenant.fm.email if p.tenant.fm else "",
            "workloads": ", ".join(w.name for w in p.tenant.workloads),
            "disengaged": self.as_of, "next_action_date": plan_next_action_date(p, self.as_of),
        } for p in members]
        sender = self._queue_sender(members)
        ctx: dict[str, Any] = {"queue": queue, "rows": rows, "as_of": self.as_of,
                               "next_action_date": nad,
                               "sender_name": sender.name if sender else "",
                               "sender": sender.email if sender else ""}
        who = f"queue move to {queue} ({len(rows)} tenant(s))"
        to = self._recipients(m, m.to, members[0].tenant, "to", checked[0].people)
        cc_all: list[Address] = []
        for c in checked:
            for a in c.cc:
                if a not in cc_all and a not in to:
                    cc_all.append(a)
        subject = self._subject(m, ctx, who)
        text = self._render_text(m.text, ctx, who)
        # the body lists the tenants that fit under the size limit; the workbook has them all
        html = fit_listing(lambda n: render(self.html_env, m.html, {**ctx, "listed": n}, who),
                           len(rows), who)
        ids = tuple(p.tenant.tenant_id for p in members)
        key = queue_move_key(queue, self.as_of, ids)
        atts = tuple(self._attachment(spec, ctx, who, rows, key) for spec in m.attachments)
        msg = OutgoingMessage(key=key, kind=m.kind, audience=m.audience, to=to,
                              cc=tuple(cc_all), sender=sender, subject=subject, text=text,
                              html=html, attachments=atts, tenant_ids=ids, origin=who)
        check_recipients(msg, None, self.internal)
        stamps: list[Stamp] = []
        notes: list[Note] = []
        for c in checked:
            stamps.extend(self._stamps(m.stamps, c.plan, None, c.note))
            notes.append(Note(c.plan.tenant.tenant_id, None, c.note))
        summary = (f"queue-move request to {queue} for {len(ids)} tenant(s) "
                   f"(set Next Action Date = {nad.isoformat()})")
        return Job(key, m.kind, ids, msg, tuple(stamps), tuple(notes), summary)

    def _queue_sender(self, members: list[TenantPlan]) -> Address | None:
        """The request's From: the configured sender, else the FM of its tenants (the
        groups are per FM then), named like every other address."""
        text = self.settings.mail.sender
        if text:
            try:
                return self.directory.name(parse_address(text))
            except AddressError as exc:
                where = str(self.settings.source or "config")
                raise MessageError(f"{where}, key mail.sender", str(exc),
                                   "set a valid sender address") from None
        fm = members[0].tenant.fm
        return self.people(members[0].tenant).fm if fm else None

    # ---- pieces ------------------------------------------------------------------------
    def _subject(self, m: Mailer, ctx: dict[str, Any], who: str) -> str:
        subject = render(self.subject_env, m.subject, ctx, who).strip()
        if LINE_BREAKS.search(subject):
            raise TemplateError(m.subject, f"the subject renders to several lines for {who}",
                                "keep the subject template on one line")
        return subject

    def _recipients(self, m: Mailer, sources: tuple[str, ...], t: TenantRecord, role: str,
                    people: TenantPeople) -> tuple[Address, ...]:
        out: list[Address] = []
        for src in sources:
            if src == "account_team":
                found = people.account_team
            elif src == "customer_contacts":
                found = people.customer_contacts
            elif src == "fm":
                if not self.settings.mail.cc_fm and role == "cc":
                    continue
                found = (people.fm,) if people.fm else ()
            else:
                try:
                    found = (self.directory.name(
                        parse_address(self.settings.mail.assignment_team)),)
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
        # openpyxl (with numpy) and docxtpl are imported by the first attachment that needs
        # them: 0.4 s a process that sends none
        name = attachment_filename(self._render_string(spec.filename, ctx, who))
        if spec.builtin == "queue_rows_xlsx":
            from ftc_office.compose.queue_sheet import XLSX_MIME, queue_rows_xlsx

            return Attachment(name, queue_rows_xlsx(rows, self.as_of, key), XLSX_MIME)
        from ftc_office.compose.docx_fast import render_docx_fast
        from ftc_office.compose.docx_finish import docx_finish
        from ftc_office.rendering.word import DOCX_MIME

        path = find_template(spec.template, self.tdirs)
        if path is None:
            raise TemplateError(spec.template, "Word template not found",
                                "check the mailer's attachments and the templates folders")
        return Attachment(name, render_docx_fast(path, ctx, who, docx_finish(self.settings, ctx)),
                          DOCX_MIME)

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
            "not_sent": f"{NO_ATU} ({self.as_of.isoformat()}): {detail}",
        }

    def _stamps(self, spec: dict[str, str], plan: TenantPlan, w: WorkloadRecord | None,
                note: str, detail: str = "") -> tuple[Stamp, ...]:
        t = plan.tenant
        values = self._stamp_values(plan, note, detail)
        tracker = self._tracker_ids.get(t.source.path)
        if tracker is None:  # resolving the path is a system call or more; once per tracker
            tracker = self._tracker_ids[t.source.path] = tracker_id(t.source.path)
        return tuple(Stamp(tracker, t.tenant_id, w.name if w else None, col, values[src])
                     for col, src in spec.items())


#: a follow-up for a discussion held longer ago than this is flagged for the FM
STALE_DAYS = 30


def workloads_part(wls: Sequence[WorkloadRecord]) -> str | None:
    """The workload part of a message key: the one workload's name, or for a message
    covering several a digest of their names (a later workload still gets its own key)."""
    if len(wls) <= 1:
        return wls[0].name if wls else None
    names = sorted(w.name.casefold() for w in wls)
    return f"{len(names)}-workloads-{hashlib.sha256(chr(0).join(names).encode()).hexdigest()[:8]}"


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
