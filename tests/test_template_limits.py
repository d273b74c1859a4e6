"""Hostile user templates: attribute escapes, huge loops, huge strings, deep recursion.

A project may override any template (``Settings(paths=PathSettings(templates=DIR))``), and
the people editing them are not programmers — or a shared folder is not theirs alone. Each
hostile template below replaces ``email/atu/body.txt`` (the tag on line 3) or is a tag in a
Word template built with python-docx; composing the ATU for a real tracker must stop with a
``TemplateError`` naming ``template:line`` (the .docx file for Word, which has no lines),
within the render's budget of loop steps and output, and without using much memory: the
whole set also runs in a child process limited to 1 GB of address space (``RLIMIT_AS``)
whose peak RSS is checked. Nothing here asserts a wall time (that measures the machine, not
the budget); the child prints its slowest template for the record.
"""

from __future__ import annotations

import datetime as dt
import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from builders import make_tracker, row
from docx import Document

from ftc_office.compose.composer import Composer
from ftc_office.config import PathSettings, Settings
from ftc_office.errors import TemplateError
from ftc_office.planning import load_workspace, plan_workspace
from ftc_office.rendering.environment import make_environment
from ftc_office.rendering.word import render_docx

AS_OF = dt.date(2026, 11, 26)
BOMBS: dict[str, str] = {
    "mro": "{{ ''.__class__.__mro__ }}",
    "globals": "{{ cycler.__init__.__globals__ }}",
    "subclasses": "{{ ().__class__.__base__.__subclasses__() }}",
    "format-escape": "{{ '{0.__class__}'.format(tenant) }}",
    "range-1e9": "{% for i in range(10**9) %}{{ i }}{% endfor %}",
    "nested-loops": "{% for i in range(100000) %}{% for j in range(100000) %}{% endfor %}"
                    "{% endfor %}",
    "recursive-loop": "{% for x in range(100) recursive %}{% if loop.depth < 8 %}"
                      "{{ loop(range(100)) }}{% endif %}{% endfor %}",
    "string-1e9": "{{ 'x' * 10**9 }}",
    "loop-output": "{% for i in range(100000) %}{{ 'x' * 1999999 }}{% endfor %}",
    "concat-doubling": "{% set ns = namespace(s='x' * 1000000) %}{% for i in range(40) %}"
                       "{% set ns.s = ns.s ~ ns.s %}{% endfor %}{{ ns.s|length }}",
    "plus-doubling": "{% set ns = namespace(s='x' * 1000000) %}{% for i in range(40) %}"
                     "{% set ns.s = ns.s + ns.s %}{% endfor %}{{ ns.s|length }}",
    "center": "{{ 'x'|center(999999999) }}",
    "percent-width": "{{ '%999999999s' % 'x' }}",
    "format-width": "{{ '{:>999999999}'.format('x') }}",
    "nested-width": "{{ '{:{}}'.format('x', 999999999) }}",
    "join": "{{ (['x' * 1000000] * 1000)|join }}",
    "ljust": "{{ 'x'.ljust(999999999) }}",
    "indent": "{{ ('a' ~ '\\n' ~ 'b')|indent(999999999) }}",
    "replace": "{{ ('x' * 1000000).replace('x', 'yyyyyyyy') }}",
    "list-extend": "{% set l = ['x' * 1000000] %}{% for i in range(40) %}{{ l.extend(l) }}"
                   "{% endfor %}",
    "macro-recursion": "{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}",
    "macro-output": "{% macro m() %}{% for i in range(100000) %}{{ 'x' * 1000000 }}"
                    "{% endfor %}{% endmacro %}{{ m()|length }}",
    "lipsum": "{{ lipsum(10**6) }}",
}
SLOW = {"recursive-loop"}  # ~4 s of loop steps before the budget stops it: child only


def tracker(folder: Path) -> Path:
    return make_tracker(folder / "tracker.xlsx", [row("t-1", customer="Contoso")])


def override(folder: Path, bomb: str) -> Settings:
    body = folder / "templates" / "email" / "atu"
    body.mkdir(parents=True, exist_ok=True)
    (body / "body.txt").write_text(f"Hello,\n\n{bomb}\n", encoding="utf-8")
    return Settings(paths=PathSettings(templates=str(folder / "templates")))


def compose(settings: Settings, path: Path) -> None:
    plans = plan_workspace(load_workspace([path], settings), AS_OF)
    Composer(settings, AS_OF).compose_tenant(plans[0])


@pytest.mark.parametrize("name", [n for n in BOMBS if n not in SLOW])
def test_hostile_template_is_a_located_template_error(tmp_path: Path, name: str) -> None:
    settings = override(tmp_path, BOMBS[name])
    with pytest.raises(TemplateError) as info:
        compose(settings, tracker(tmp_path))
    assert info.value.where == "email/atu/body.txt:3", str(info.value)


def test_ordinary_templates_still_render(tmp_path: Path) -> None:
    text = ("{% for w in tenant.workloads %}{{ loop.index }}/{{ loop.length }} {{ w.name }}"
            "{% endfor %} {{ tenant.account_team|join('; ') }} {{ '%5s|' % 'ab' }}"
            "{{ '{:>6}'.format('cd') }} {{ ('x' * 3 + 'y') ~ 'z' }} {{ 'a\nb'|indent(2) }}")
    settings = override(tmp_path, text)
    plans = plan_workspace(load_workspace([tracker(tmp_path)], settings), AS_OF)
    job = Composer(settings, AS_OF).compose_tenant(plans[0])[0]
    assert job.message is not None
    assert "1/1 Teams ann@microsoft.com    ab|    cd xxxyz a\n  b" in job.message.text


def word_template(path: Path, tag: str) -> Path:
    doc = Document()
    doc.add_paragraph("ATU brief for {{ tenant.customer }}")
    doc.add_paragraph(tag)
    doc.save(str(path))
    return path


@pytest.mark.parametrize("name", ["mro", "nested-loops", "center", "loop-output",
                                  "concat-doubling", "macro-recursion"])
def test_hostile_word_template_is_a_template_error(tmp_path: Path, name: str) -> None:
    path = word_template(tmp_path / "brief.docx", BOMBS[name])
    with pytest.raises(TemplateError) as info:
        render_docx(path, {"tenant": {"customer": "Contoso"}}, "tenant t-1")
    assert str(path) in info.value.where and "Word template failed" in info.value.what


CHILD = textwrap.dedent('''
    import json, resource, sys, time
    from pathlib import Path
    resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
    sys.path.insert(0, sys.argv[2])
    import test_template_limits as t
    from ftc_office.errors import TemplateError
    from ftc_office.rendering.word import render_docx
    out = {}
    root = Path(sys.argv[1])
    for name, bomb in t.BOMBS.items():
        folder = root / name
        folder.mkdir()
        start = time.perf_counter()
        try:
            t.compose(t.override(folder, bomb), t.tracker(folder))
            result = "rendered"
        except TemplateError as exc:
            result = "TemplateError " + exc.where
        except BaseException as exc:
            result = type(exc).__name__
        word = folder / "brief.docx"
        try:
            render_docx(t.word_template(word, bomb), {"tenant": {"customer": "C"}}, "t")
            wres = "rendered"
        except TemplateError as exc:
            wres = "TemplateError"
        except BaseException as exc:
            wres = type(exc).__name__
        out[name] = [result, wres, round(time.perf_counter() - start, 2)]
    # VmHWM is this process's own peak: ru_maxrss also carries the forking parent's peak
    # across exec on Linux (a pytest process that ran the whole suite is ~400 MB)
    try:
        hwm = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")]
        out["maxrss_mb"] = int(hwm[0].split()[1]) // 1024
    except (OSError, IndexError):
        out["maxrss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss // 1024
    print(json.dumps(out))
''')


@pytest.mark.slow
def test_memory_stays_bounded_in_a_1_gb_child(tmp_path: Path) -> None:
    proc = subprocess.run([sys.executable, "-c", CHILD, str(tmp_path), str(Path(__file__).parent)],
                          capture_output=True, text=True)
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    rss = out.pop("maxrss_mb")
    bad = {n: r for n, r in out.items()
           if r[0] != "TemplateError email/atu/body.txt:3" or r[1] != "TemplateError"}
    assert bad == {}
    assert rss < 400, f"peak RSS {rss} MB"
    slowest = max(out, key=lambda n: out[n][2])
    print(f"template limits: {len(out)} hostile templates (text and Word), 0 escaped, "
          f"peak RSS {rss} MB, slowest {slowest} {out[slowest][2]} s on this machine")


def test_globals_reach_the_template_as_jinja_chains_them(tmp_path: Path) -> None:
    """`_BudgetTemplate.new_context` flattens the globals Jinja chains: a value passed to the
    render wins over a template global, which wins over an environment global; a global
    set on the environment after the template was compiled is seen (nothing cached)."""
    env = make_environment([tmp_path], html=False)
    env.globals["who"] = "environment"
    env.globals["only_env"] = "e"
    t = env.from_string("{{ who }} {{ only_env }} {{ only_tpl }} {{ range(2)|list }}",
                        globals={"who": "template", "only_tpl": "t"})
    assert t.render() == "template e t [0, 1]"
    assert t.render(who="render") == "render e t [0, 1]"
    env.globals["only_env"] = "changed"
    assert t.render() == "template changed t [0, 1]"
