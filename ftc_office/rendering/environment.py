"""The one factory for Jinja environments, and turning Jinja errors into located messages.

Every environment is sandboxed (templates may be edited by non-programmers) with
StrictUndefined (a missing value is an error naming ``template:line``, never an empty
string). HTML templates autoescape. The sandbox bounds neither CPU nor memory, so each
rendering also has a budget of loop steps and output, and no operator, method or filter may
build a string or list larger than the output limit.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import functools
import re
import sys
from collections.abc import Callable, Generator, Iterable, Iterator, Mapping
from pathlib import Path
from typing import Any, NoReturn, cast

import jinja2
import jinja2.runtime
from jinja2 import nodes
from jinja2.compiler import CodeGenerator, Frame
from jinja2.nodes import EvalContext
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError
from markupsafe import Markup

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


_WHOLE_NUMBER = re.compile(r"(?<![\w.,:/-])\d{4,}(?![\w.,:/-]?\d)")


def thousands(value: Any) -> Any:
    """``15000`` → ``15,000``: numbers grouped with a comma whatever the locale (a figure
    reads the same to every recipient). In text, each whole number of four or more digits
    standing alone is grouped (``2300 active users`` → ``2,300 active users``; not parts
    of dates, IDs or decimals); anything else is returned unchanged."""
    if isinstance(value, str):
        grouped = _WHOLE_NUMBER.sub(lambda m: f"{int(m.group()):,}", value)
        return Markup(grouped) if isinstance(value, Markup) else grouped
    if isinstance(value, bool) or not isinstance(value, int | float):
        return value
    if isinstance(value, float) and not value.is_integer():
        return f"{value:,.2f}".rstrip("0").rstrip(".")
    return f"{int(value):,}"


def yes_no(value: Any) -> str:
    """The ``yes_no`` filter: "yes" for a true value, "no" otherwise."""
    return "yes" if value else "no"


_CONTROL_RUN = re.compile("[\\s\\x00-\\x1f\\x7f-\\x9f\\u2028\\u2029]+")


def one_line(value: Any) -> Any:
    """A value as it may appear in a one-line header: control characters and line breaks
    (Alt+Enter in a cell, Word's vertical tab) become one space. Text written in the template
    itself is left alone, so a subject template spanning two lines is still caught."""
    if isinstance(value, str):
        return _CONTROL_RUN.sub(" ", value).strip()
    return value


# Per render: loop steps left and characters of output left. Shared by every loop, macro and
# include of one ``Template.render`` call (docxtpl calls it once per document part).
_BUDGET: contextvars.ContextVar[list[int]] = contextvars.ContextVar("ftc_template_budget")
MAX_STEPS = 1_000_000  # loop iterations per render (the sandbox bounds no CPU time itself)
_WIDTH_METHODS = frozenset({"center", "ljust", "rjust", "zfill", "expandtabs"})
_FORMAT_WIDTH = re.compile(r"\{[^{}]*?\d{7,}[^{}]*\}|%[-+ #0]*\d{7,}|%[-+ #0]*\d*\.\d{7,}")
_NESTED_FIELD = re.compile(r"\{[^{}]*\{|%[-+ #0]*\*|%[-+ #0]*\d*\.\*")


def _refuse(what: str) -> NoReturn:
    raise SecurityError(f"{what} (limit {MAX_OUTPUT:,} characters or items)")


def _size(value: Any) -> int:
    return len(value) if isinstance(value, str | list | tuple | dict | set) else 0


def _check_result(value: Any) -> Any:
    if _size(value) > MAX_OUTPUT:
        _refuse(f"a value of {_size(value):,} characters or items")
    return value


def _check_format(fmt: str, args: Iterable[Any]) -> None:
    """A format string must not ask for a huge width or precision (``{:>999999999}``)."""
    if _FORMAT_WIDTH.search(fmt):
        _refuse("a format width or precision that large")
    if _NESTED_FIELD.search(fmt) and any(isinstance(a, int) and abs(a) > MAX_OUTPUT
                                         for a in args):
        _refuse("a format width or precision that large")


def _precheck_call(name: str, target: Any, args: tuple[Any, ...], kwargs: dict[str, Any]
                   ) -> None:
    """Refuse string operations whose result would be huge, before they allocate it."""
    values = [*args, *kwargs.values()]
    if name in _WIDTH_METHODS and any(isinstance(a, int) and a > MAX_OUTPUT for a in values):
        _refuse(f"{name}() with a width that large")
    if name == "expandtabs" and isinstance(target, str):
        size = target.count("\t") * (values[0] if values and isinstance(values[0], int) else 8)
        if size > MAX_OUTPUT:
            _refuse("expandtabs() that large")
    if name in ("format", "format_map") and isinstance(target, str):
        inner = [*values, *(v for a in values if isinstance(a, dict) for v in a.values())]
        _check_format(target, inner)
    if name == "replace" and isinstance(target, str) and len(values) >= 2:
        old, new = values[0], values[1]
        if isinstance(old, str) and isinstance(new, str):
            hits = len(target) + 1 if not old else target.count(old)
            if len(target) + hits * (len(new) - len(old)) > MAX_OUTPUT:
                _refuse("replace() with a result that large")
    if name == "join" and isinstance(target, str) and values and isinstance(
            values[0], list | tuple):
        items = values[0]
        if sum(map(_size, items)) + len(target) * len(items) > MAX_OUTPUT:
            _refuse("join() with a result that large")


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """A built-in filter with size checks before (arguments) and after (result)."""

    @functools.wraps(func)  # keeps jinja_pass_arg (pass_context / pass_eval_context)
    def guarded(*args: Any, **kwargs: Any) -> Any:
        plain = [a for a in args if not isinstance(a, jinja2.runtime.Context | EvalContext
                                                   | jinja2.Environment)]
        value, rest = (plain[0], plain[1:]) if plain else (None, [])
        extra = [*rest, *kwargs.values()]
        if any(isinstance(a, int) and not isinstance(a, bool) and a > MAX_OUTPUT
               for a in extra):
            _refuse(f"|{name} with an argument that large")
        if name == "indent" and isinstance(value, str):
            width = extra[0] if extra else 4
            width = len(width) if isinstance(width, str) else int(width or 0)
            if len(value) + (value.count("\n") + 1) * width > MAX_OUTPUT:
                _refuse("|indent with a result that large")
        if name == "format" and isinstance(value, str):
            _check_format(value, extra)
        if name in ("replace", "join"):
            target, call_args = (value, extra) if name == "replace" else (
                str(extra[0]) if extra else "", [list(value) if isinstance(
                    value, list | tuple) else value])
            _precheck_call(name, target, tuple(call_args), {})
        return _check_result(func(*args, **kwargs))

    return guarded


class _GuardedCodeGenerator(CodeGenerator):
    """Jinja's code generator with two hooks: every ``for`` loop counts its steps against the
    render's budget, and every ``~`` checks the size of what it joins before joining."""

    def visit_For(self, node: nodes.For, frame: Frame) -> None:
        """A ``for`` loop whose iterable goes through ``ftc_steps`` (counted)."""
        if not getattr(node, "ftc_guarded", False):
            node.iter = nodes.Call(nodes.EnvironmentAttribute("ftc_steps"), [node.iter], [],
                                   None, None, lineno=node.lineno)
            node.ftc_guarded = True  # type: ignore[attr-defined]
        super().visit_For(node, frame)

    def visit_Concat(self, node: nodes.Concat, frame: Frame) -> None:
        """A ``~`` join whose operands go through ``ftc_parts`` (size-checked)."""
        if frame.eval_ctx.volatile:
            func_name = "(markup_join if context.eval_ctx.volatile else str_join)"
        elif frame.eval_ctx.autoescape:
            func_name = "markup_join"
        else:
            func_name = "str_join"
        self.write(f"{func_name}(environment.ftc_parts((")
        for arg in node.nodes:
            self.visit(arg, frame)
            self.write(", ")
        self.write(")))")


class _BudgetTemplate(jinja2.Template):
    """A template whose ``render`` has a budget of loop steps and streams its output through
    a size check, so a runaway loop stops early instead of filling memory first."""

    def new_context(self, vars: dict[str, Any] | None = None, shared: bool = False,
                    locals: Mapping[str, Any] | None = None) -> jinja2.runtime.Context:
        """Jinja's, given the template's globals as one plain dict: Jinja chains the
        template's and the environment's globals (a ``ChainMap``) and copied the chain key
        by key in Python twice per render — half of setting up each of a run's renders."""
        flat: dict[str, Any] = {}
        for scope in reversed(getattr(self.globals, "maps", [self.globals])):
            flat.update(scope)  # the first map wins, as in the ChainMap
        return jinja2.runtime.new_context(self.environment, self.name, self.blocks, vars,
                                          shared, flat, locals)

    def render(self, *args: Any, **kwargs: Any) -> str:
        """Render with a fresh budget of loop steps and output size."""
        token = _BUDGET.set([MAX_STEPS, MAX_OUTPUT])
        try:
            ctx = self.new_context(dict(*args, **kwargs))
            parts: list[str] = []
            size = 0
            try:
                gen = cast(Generator[str, None, None], self.root_render_func(ctx))
                for chunk in gen:
                    size += len(chunk)
                    if size > MAX_OUTPUT:  # raised where the template is: template:line
                        gen.throw(SecurityError(f"output of more than {size:,} characters "
                                                f"(limit {MAX_OUTPUT:,})"))
                    parts.append(chunk)
            except Exception:
                self.environment.handle_exception()
            return "".join(parts)
        finally:
            _BUDGET.reset(token)


class _LimitedSandbox(ImmutableSandboxedEnvironment):
    """The sandbox blocks attribute escapes, mutation of lists and dicts (``l.extend(l)``
    doubling) and ranges over 100,000; this also bounds CPU (loop steps per render) and
    memory (the size of every string or list an operator, method, filter, ``~`` or the
    output would build) — found by tests/test_template_limits.py: nested loops ran forever,
    ``'x'|center(999999999)`` and a loop printing 2 MB a step took gigabytes."""

    intercepted_binops = frozenset(["*", "**", "+", "%"])
    code_generator_class = _GuardedCodeGenerator
    template_class = _BudgetTemplate

    def call_binop(self, context: Any, operator: str, left: Any, right: Any) -> Any:
        """``*``, ``**``, ``+`` and ``%`` with their results bounded before they are built."""
        if operator == "**" and isinstance(right, int | float) and abs(right) > 64:
            raise jinja2.sandbox.SecurityError("exponent too large (limit 64)")
        if operator == "*":
            for seq, n in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(n, int) and (
                        len(seq) * n > MAX_OUTPUT):
                    raise jinja2.sandbox.SecurityError(
                        f"repetition too large (limit {MAX_OUTPUT} items)")
        if operator == "+" and _size(left) + _size(right) > MAX_OUTPUT:
            _refuse("a sum that large")
        if operator == "%" and isinstance(left, str):
            _check_format(left, right if isinstance(right, tuple) else (right,))
        return _check_result(super().call_binop(context, operator, left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any,
             **kwargs: Any) -> Any:
        """A call from a template, checked first when it could build something huge."""
        if isinstance(__obj, jinja2.runtime.LoopContext) and args:
            # a recursive loop's ``loop(children)``: those steps count as well
            args = (__self.ftc_steps(args[0]), *args[1:])
        else:
            target = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)
            name = getattr(__obj, "__name__", "")
            if isinstance(target, str | list | tuple):
                _precheck_call(name, target, args, kwargs)
        return _check_result(super().call(__context, __obj, *args, **kwargs))

    def ftc_steps(self, iterable: Any) -> Iterator[Any]:
        """Iterate, counting each step against the render's budget."""
        budget = _BUDGET.get(None)
        if budget is None:  # rendered outside _BudgetTemplate.render (generate, stream)
            budget = [MAX_STEPS, MAX_OUTPUT]
        for item in iterable:
            budget[0] -= 1
            if budget[0] < 0:
                raise SecurityError(f"more than {MAX_STEPS:,} loop steps in one rendering "
                                    "(a runaway or nested loop?)")
            yield item

    def ftc_parts(self, parts: tuple[Any, ...]) -> tuple[Any, ...]:
        """The operands of a ``~`` join, refused when the result would be too large."""
        if sum(map(_size, parts)) > MAX_OUTPUT:
            _refuse("joining (~) strings that large")
        return parts


def _count_output(value: Any) -> Any:
    """Every printed ``{{ value }}`` counts against the render's output budget (macros and
    call blocks buffer their output before the streamed check sees it)."""
    budget = _BUDGET.get(None)
    if budget is not None and isinstance(value, str):
        budget[1] -= len(value)
        if budget[1] < 0:
            _refuse("printed values of one rendering that large in total")
    return value


def make_environment(search_path: list[Path], html: bool,
                     finalize: Callable[[Any], Any] | None = None) -> jinja2.Environment:
    """A strict sandboxed environment over the given folders (overrides first).

    ``finalize`` is applied to every ``{{ value }}`` before output (e.g. :func:`one_line`).
    """
    def counted(value: Any) -> Any:
        return _count_output(finalize(value) if finalize else value)

    env = _LimitedSandbox(
        loader=jinja2.FileSystemLoader([str(p) for p in search_path], encoding="utf-8"),
        undefined=jinja2.StrictUndefined,
        autoescape=html,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        auto_reload=False,
        finalize=counted,
    )
    for name, func in list(env.filters.items()):
        env.filters[name] = _guard_filter(name, func)
    env.globals.pop("lipsum", None)  # lipsum(n) loops n times outside any budget
    env.filters["date"] = human_date
    env.filters["join_and"] = join_and
    env.filters["yes_no"] = yes_no
    env.filters["thousands"] = thousands
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
