"""Checks of records that need more than one row: a tenant in two trackers, customer
contacts that belong to another customer of the workspace, addresses outside the internal
domains where only internal people belong (`audience_problems`), and dates that cannot be
true on the as-of date (`implausible_dates`). Each names the cell to fix; planning adds them
to the tenants' problems, so check, plan, preview and run refuse the same tenants with the
same message."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from typing import Any

from ftc_office.addresses import domain_allowed
from ftc_office.errors import Problem
from ftc_office.fields import normalise_header as _norm
from ftc_office.tracker.records import TenantRecord, TrackerRecords


def cross_tracker_problems(trackers: Iterable[TrackerRecords]) -> list[Problem]:
    """A tenant that appears in two trackers is a problem for both."""
    first: dict[str, TenantRecord] = {}
    flagged: set[str] = set()
    problems: list[Problem] = []
    for tr in trackers:
        for t in tr.tenants:
            key = t.tenant_id.casefold()
            if key in first and first[key].source.path != t.source.path:
                other = first[key]
                problems.append(Problem(
                    t.where("tenant_id"),
                    f"tenant {t.tenant_id} also appears in {other.where('tenant_id')}",
                    "keep each tenant in one tracker only"))
                if key not in flagged:
                    flagged.add(key)
                    problems.append(Problem(
                        other.where("tenant_id"),
                        f"tenant {other.tenant_id} also appears in {t.where('tenant_id')}",
                        "keep each tenant in one tracker only"))
            first.setdefault(key, t)
    return problems


# Mail services shared by unrelated people: a domain here says nothing about whose contact
# an address is, so it never makes an address "another tenant's".
PUBLIC_MAIL_DOMAINS = frozenset({
    "gmail.com", "googlemail.com", "outlook.com", "hotmail.com", "live.com", "msn.com",
    "yahoo.com", "icloud.com", "me.com", "aol.com", "gmx.com", "gmx.de", "web.de",
    "proton.me", "protonmail.com", "mail.com", "yandex.com", "qq.com", "163.com",
})


def _majority_domains(t: TenantRecord) -> set[str]:
    """The most frequent customer contact domain(s) of a tenant (all of them on a tie)."""
    counts: dict[str, int] = {}
    for a in t.customer_contacts:
        counts[a.ascii_domain] = counts.get(a.ascii_domain, 0) + 1
    top = max(counts.values(), default=0)
    return {d for d, n in counts.items() if n == top}


def cross_tenant_contact_problems(trackers: Iterable[TrackerRecords]
                                  ) -> list[tuple[TenantRecord, Problem]]:
    """Customer contacts that belong to another customer of the workspace (a wrong-customer
    mail waiting to happen), each a problem naming the Customer Contacts cell.

    A domain belongs to the customer (by normalised Customer name) with strictly the most
    contacts at it, when it is also the majority contact domain of one of that customer's
    tenants. An address of tenant A at a domain that belongs to another customer B is a
    problem (A's cell holds B's contact) unless that domain is A's own single majority
    domain: then it is A's domain too (a partner serving both, one company under two names)
    — so a cell holding only another tenant's addresses is not detectable here. A tie
    belongs to nobody. Public mail domains (gmail.com, outlook.com, ...) say nothing about
    whose address it is and are left alone.
    """
    tenants = [t for tr in trackers for t in tr.tenants]
    tops = [_majority_domains(t) for t in tenants]  # each tenant's, worked out once
    top_of = {id(t): top for t, top in zip(tenants, tops, strict=True)}
    counts: dict[str, dict[str, int]] = {}
    majority: dict[tuple[str, str], TenantRecord] = {}
    names = [_norm(t.customer) for t in tenants]
    for t, top, name in zip(tenants, tops, names, strict=True):
        for a in t.customer_contacts:
            per = counts.setdefault(a.ascii_domain, {})
            per[name] = per.get(name, 0) + 1
        for d in top:  # named as the home: preferably a tenant with that domain alone
            cur = majority.get((d, name))
            if cur is None or (len(top) == 1 and len(top_of[id(cur)]) > 1):
                majority[(d, name)] = t
    owner: dict[str, tuple[TenantRecord, str]] = {}  # domain → its home tenant, customer
    for d, per in counts.items():
        if d in PUBLIC_MAIL_DOMAINS:
            continue
        if len(per) == 1:  # one customer at the domain (most)
            (first,) = per
        else:
            ranked = sorted(per.items(), key=lambda kv: -kv[1])
            if ranked[0][1] == ranked[1][1]:
                continue
            first = ranked[0][0]
        home = majority.get((d, first))
        if home is not None:
            owner[d] = home, first
    out: list[tuple[TenantRecord, Problem]] = []
    for t, own, name in zip(tenants, tops, names, strict=True):
        for a in t.customer_contacts:
            d = a.ascii_domain
            if len(own) == 1 and d in own:
                continue  # the tenant's one majority domain is its own (a partner, a shared one)
            found = owner.get(d)
            if found is not None and found[1] != name:
                o = found[0]
                out.append((t, Problem(
                    t.where("customer_contacts"),
                    f"customer contact {a.email} belongs to tenant {o.tenant_id} "
                    f"({o.customer}, {o.where('customer_contacts')}), not to {t.customer}",
                    "put only this customer's own contacts in the cell (if both tenants are "
                    "one company, give them the same Customer name)")))
    return out



#: the address fields only internal people belong in, and why
_INTERNAL_ONLY = {"fm_email": "the FM sends and is copied on every message, customer mail "
                              "included",
                  "account_team": "the ATU to the account team is internal mail"}


def audience_problems(t: TenantRecord, internal_domains: Iterable[str]) -> list[Problem]:
    """The FM or an account-team address outside ``mail.internal_domains``, naming the cell:
    run would refuse the internal message (or copy a private address on customer mail)."""
    internal = tuple(d.lower() for d in internal_domains)
    shown = ", ".join(internal) or "none configured"
    out: list[Problem] = []
    for name in _INTERNAL_ONLY:
        value = getattr(t, name)
        for a in (value,) if name == "fm_email" else value:
            if a is not None and not domain_allowed(a, internal):
                header = t.source.headers.get(name, name)
                out.append(Problem(
                    t.where(name), f"{header} {a.email} is outside the internal domains "
                    f"({shown}): {_INTERNAL_ONLY[name]}",
                    "type the work address, or add its domain to mail.internal_domains in "
                    "ftc-office.toml"))
    return out


__all__ = ["PUBLIC_MAIL_DOMAINS", "audience_problems", "cross_tenant_contact_problems",
           "cross_tracker_problems", "implausible_dates"]


#: the dates a person types that must lie between the plausible past and the as-of date
_DATED = (("workload", "discussion_date"), ("workload", "atu_sent"),
          ("workload", "customer_email_sent"), ("tenant", "queue_confirmed"))


def implausible_dates(t: TenantRecord, as_of: dt.date) -> list[Problem]:
    """Dates after ``as_of``, or more than 5 years before it (or before 2015), naming the cell."""
    floor = max(dt.date(2015, 1, 1), as_of.replace(year=as_of.year - 5, day=min(as_of.day, 28)))
    found: list[tuple[Any, str | None, str]] = []
    for level, name in _DATED:  # only the dates out of range are looked at further
        for rec in (t,) if level == "tenant" else t.workloads:
            value = getattr(rec, name)
            if isinstance(value, dt.date) and not floor <= value <= as_of:
                found.append((value, rec.refs.get(name), name))
    out: list[Problem] = []
    for value, ref, name in found:
        if ref is None:
            continue
        header = t.source.headers.get(name, name)
        if value > as_of:
            out.append(Problem(t.source.where(ref), f"{header} {value.isoformat()} is after "
                               f"the as-of date {as_of.isoformat()}",
                               "type the date it happened (or clear the cell)"))
        elif value < floor:
            out.append(Problem(t.source.where(ref), f"{header} {value.isoformat()} is before "
                               f"{floor.isoformat()}, implausibly long ago",
                               "check the year and type the date it happened"))
    return out
