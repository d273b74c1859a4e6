"""Audiences are bound (docs/DOMAIN.md): who may receive a message, and what it may say.

- Internal mail goes only to internal domains; a customer message only to that one tenant's
  own contacts, plus the FM in copy.
- A customer template (email or Word) may not name an internal variable
  (:data:`~ftc_office.compose.context.INTERNAL`): checked when the mailers load, before
  anything renders, and reported at ``template:line``. The customer context leaves those
  variables out as well, so even a template that dumps a whole object cannot show them.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable, Sequence
from pathlib import Path

import jinja2
import jinja2.meta
from jinja2 import nodes

from ftc_office.addresses import Address, domain_allowed
from ftc_office.compose.context import INTERNAL
from ftc_office.errors import MessageError, TemplateError
from ftc_office.mailers import Mailer, find_template
from ftc_office.message import OutgoingMessage
from ftc_office.tracker.records import TenantRecord

_TAG_SPLIT = re.compile(r"<[^>]+>")


def check_internal(addresses: Sequence[Address], internal: tuple[str, ...], where: str
                   ) -> None:
    """Every address is in an internal domain, or a MessageError naming it."""
    for a in addresses:
        if not domain_allowed(a, internal):
            raise MessageError(where, f"internal message addressed to {a.email}, "
                               "outside the internal domains",
                               "fix the address in the tracker, or add the domain to "
                               "mail.internal_domains in ftc-office.toml")


def check_recipients(msg: OutgoingMessage, t: TenantRecord | None,
                     internal: tuple[str, ...]) -> None:
    """Internal mail only to internal domains; a customer message only to that one tenant's
    own contacts, plus the FM."""
    where = msg.origin or msg.key
    if msg.audience == "internal":
        check_internal(msg.recipients, internal, where)
        return
    if t is None or len(msg.tenant_ids) != 1:
        raise MessageError(where, "a customer message must belong to exactly one tenant",
                           "report this as a bug")
    allowed = set(t.customer_contacts)
    for a in msg.to:
        if a not in allowed:
            raise MessageError(where, f"{a.email} is not one of this tenant's customer "
                               "contacts", "check the Customer Contacts column")
    for a in msg.cc:
        if a != t.fm and a not in allowed:
            raise MessageError(where, f"{a.email} may not be copied on a customer message",
                               "only the FM is copied")


def internal_names_used(source: str, env: jinja2.Environment) -> list[tuple[int, str]]:
    """(line, name) of every internal variable a template's source names, as an attribute
    (``tenant.seats``, ``w.next_steps``), a subscript (``tenant['seats']``) or a bare name."""
    found: list[tuple[int, str]] = []
    for node in env.parse(source).find_all((nodes.Getattr, nodes.Getitem, nodes.Name)):
        if isinstance(node, nodes.Getattr):
            name = node.attr
        elif isinstance(node, nodes.Getitem):
            arg = node.arg
            name = arg.value if isinstance(arg, nodes.Const) and isinstance(arg.value, str) \
                else ""
        else:
            name = node.name  # type: ignore[attr-defined]
        if name in INTERNAL:
            found.append((node.lineno, name))
    return found


def docx_source(path: Path) -> str:
    """The Jinja source of a Word template: its document, headers and footers, with Word's
    runs stripped so that tags split across runs read whole."""
    parts: list[str] = []
    with zipfile.ZipFile(path) as z:
        for n in z.namelist():
            if n.startswith("word/") and n.endswith(".xml") and (
                    n == "word/document.xml" or "header" in n or "footer" in n):
                parts.append(_TAG_SPLIT.sub("", z.read(n).decode("utf-8", "replace")))
    text = "\n".join(parts)
    # docxtpl's {%p / {%tr / {%tc / {%r tags are ordinary Jinja tags once the letter is gone
    return re.sub(r"\{%\s*[prtc]{1,2}\s", "{% ", text)


def check_customer_template(where: str, source: str, env: jinja2.Environment,
                            includes: Iterable[tuple[str, str]] = ()) -> None:
    """Refuse a customer template (and the templates it extends or includes) that names an
    internal variable; the error names ``template:line``."""
    for name, text in ((where, source), *includes):
        try:
            used = internal_names_used(text, env)
        except jinja2.TemplateSyntaxError:
            continue  # the renderer reports syntax errors with their line
        if used:
            line, var = used[0]
            raise TemplateError(f"{name}:{line}", f"a customer template uses the internal "
                                f"variable '{var}' (internal notes and programme figures "
                                "never reach a customer)",
                                "remove it; customer-safe text goes in the Customer Next "
                                "Steps column (workload.customer_next_steps)")


def check_customer_mailer(m: Mailer, env: jinja2.Environment, tdirs: list[Path]) -> None:
    """A customer mailer's templates (subject, text, HTML with the layouts they extend or
    include, Word attachments) may name no internal variable (``template:line``)."""
    loader = env.loader
    assert loader is not None
    for name in (m.subject, m.text, m.html):
        source, filename, _ = loader.get_source(env, name)
        check_customer_template(str(filename or name), source, env,
                                _referenced(source, env))
    for spec in m.attachments:
        path = find_template(spec.template, tdirs) if spec.template else None
        if path is not None and path.suffix == ".docx":
            check_customer_template(str(path), docx_source(path), env)


def _referenced(source: str, env: jinja2.Environment) -> list[tuple[str, str]]:
    """(file, source) of the templates a template extends or includes, transitively."""
    loader = env.loader
    assert loader is not None
    out: list[tuple[str, str]] = []
    todo = [source]
    seen: set[str] = set()
    while todo:
        for ref in jinja2.meta.find_referenced_templates(env.parse(todo.pop())):
            if ref and ref not in seen:
                seen.add(ref)
                src, filename, _ = loader.get_source(env, ref)
                out.append((str(filename or ref), src))
                todo.append(src)
    return out
