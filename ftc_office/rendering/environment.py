"""The one factory for Jinja environments, and turning Jinja errors into located messages.

Every environment is sandboxed (templates may be edited by non-programmers) with
StrictUndefined (a missing value is an error naming ``template:line``, never an empty
string). HTML templates autoescape. Output size is capped so a runaway loop is stopped.
"""

from __future__ import annotations

import datetime as dt
import re
import sys
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from ftc_office.errors import TemplateError

MAX_OUTPUT = 2_000_000  # characters one template may produce


def human_date(value: Any) -> str:
    """``26 November 2026`` — unambiguous in every locale an FM writes to."""
    if isinstance(value, dt.datetime):
        value = value.date()
    if isinstance(value, dt.date):
        return f"{value.day} {value.strftime('%B')} {value.year}"
    return str(value) if value is not None else ""


def join_and(items: Iterable[Any]) -> str:
    """``A, B and C``."""
    parts = [str(i) for i in items]
    if len(parts) <= 1:
        return "".join(parts)
    return ", ".join(parts[:-1]) + " and " + parts[-1]


def yes_no(value: Any) -> str:
    return "yes" if value else "no"


_CONTROL_RUN = re.compile("[\\s\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029]+")


def one_line(value: Any) -> Any:
    """A value as it may appear in a one-line header: control characters and line breaks
    (Alt+Enter in a cell, Word's vertical tab) become one space. Text written in the template
    itself is left alone, so a subject template spanning two lines is still caught."""
    if isinstance(value, str):
        return _CONTROL_RUN.sub(" ", value).strip()
    return value


class _LimitedSandbox(SandboxedEnvironment):
    """The sandbox blocks attribute escapes and huge ranges; this also caps ``*`` and ``**``."""

    intercepted_binops = frozenset(["*", "**"])

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        if operator == "**" and isinstance(right, int | float) and abs(right) > 64:
            raise jinja2.sandbox.SecurityError("exponent too large (limit 64)")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(n, int) and (
                        len(seq) * n > MAX_OUTPUT):
                    raise jinja2.sandbox.SecurityError(
                        f"repetition too large (limit {MAX_OUTPUT} items)")
        return super().call_binop(context, operator, left, right)


def make_environment(search_path: list[Path], html: bool,
                     finalize: Callable[[Any], Any] | None = None) -> jinja2.Environment:
    """A strict sandboxed environment over the given folders (overrides first).

    ``finalize`` is applied to every ``{{ value }}`` before output (e.g. :func:`one_line`).
    """
    env = _LimitedSandbox(
        loader=jinja2.FileSystemLoader([str(p) for p in search_path], encoding="utf-8"),
        undefined=jinja2.StrictUndefined,
        autoescape=html,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        finalize=finalize,
    )
    env.filters["date"] = human_date
    env.filters["join_and"] = join_and
    env.filters["yes_no"] = yes_no
    return env


def template_location(exc: BaseException, fallback: str,
                      roots: Iterable[str | Path] = ()) -> str:
    """``template:line`` of the innermost template frame of a Jinja error.

    The template is named relative to the search folder it was found in
    (``email/atu/body.txt:3``), so two ``body.txt`` files are never confused.
    """
    if isinstance(exc, jinja2.TemplateSyntaxError):
        return f"{exc.name or exc.filename or fallback}:{exc.lineno}"
    tb = exc.__traceback__
    found = fallback
    while tb is not None:
        code = tb.tb_frame.f_code
        fname = code.co_filename
        if fname.endswith((".html", ".txt", ".xml", ".jinja")) or "templates" in fname:
            found = f"{_short(fname, roots)}:{tb.tb_lineno}"
        tb = tb.tb_next
    return found


def _short(filename: str, roots: Iterable[str | Path] = ()) -> str:
    p = Path(filename)
    for root in roots:
        try:
            return p.relative_to(root).as_posix()
        except ValueError:
            continue
    parts = p.parts
    if "templates" in parts:
        i = len(parts) - 1 - parts[::-1].index("templates")
        return "/".join(parts[i + 1:])
    return p.name


def render(env: jinja2.Environment, name: str, context: dict[str, Any], who: str) -> str:
    """Render one template; every failure is a TemplateError naming template:line and who."""
    roots = list(getattr(env.loader, "searchpath", ()))
    try:
        template = env.get_template(name)
        out = template.render(context)
    except jinja2.TemplateNotFound as exc:
        raise TemplateError(name, f"template not found ({exc.name})",
                            "check the mailer file and the templates folders") from None
    except jinja2.UndefinedError as exc:
        where = template_location(exc, name, roots)
        raise TemplateError(where, f"{exc.message} (while rendering for {who})",
                            "fill the missing value in the tracker, or fix the variable name "
                            "in the template") from None
    except jinja2.TemplateSyntaxError as exc:
        raise TemplateError(template_location(exc, name, roots), f"template syntax: {exc.message}",
                            "fix the template at that line") from None
    except jinja2.sandbox.SecurityError as exc:
        raise TemplateError(template_location(exc, name, roots),
                            f"not allowed in a template: {exc}",
                            "remove it; templates may only format the values they are given"
                            ) from None
    except (RecursionError, MemoryError, OverflowError) as exc:
        raise TemplateError(template_location(exc, name, roots), f"{type(exc).__name__} while "
                            f"rendering for {who}", "simplify the template") from None
    except Exception as exc:
        raise TemplateError(template_location(exc, name, roots),
                            f"{type(exc).__name__}: {exc} (while rendering for {who})",
                            "fix the template at that line") from None
    if len(out) > MAX_OUTPUT:
        raise TemplateError(name, f"rendered {len(out)} characters for {who} (limit "
                            f"{MAX_OUTPUT})", "check the template for a runaway loop")
    return out


sys.setrecursionlimit(max(sys.getrecursionlimit(), 3000))
