"""The floor plan stays livable: small modules, short functions, no upward imports.

Limits from the renovation (issue 10): no module of the package over 450 lines, no function
over 60 lines. The import layering itself is checked by import-linter in `.ci/run`
(contracts in pyproject.toml); this test keeps the sizes honest in the inner loop.
"""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "ftc_office"
MAX_MODULE_LINES = 450
MAX_FUNCTION_LINES = 60


def modules() -> list[Path]:
    return sorted(PACKAGE.rglob("*.py"))


def test_no_module_is_over_450_lines() -> None:
    big = {str(p.relative_to(PACKAGE)): n for p in modules()
           if (n := len(p.read_text(encoding="utf-8").splitlines())) > MAX_MODULE_LINES}
    assert big == {}


def test_no_function_is_over_60_lines() -> None:
    long: dict[str, int] = {}
    for p in modules():
        tree = ast.parse(p.read_text(encoding="utf-8"))
        for node in ast.walk(tree):
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
                n = (node.end_lineno or node.lineno) - node.lineno + 1
                if n > MAX_FUNCTION_LINES:
                    long[f"{p.relative_to(PACKAGE)}:{node.lineno} {node.name}"] = n
    assert long == {}


def test_every_module_says_what_it_owns() -> None:
    missing = [str(p.relative_to(PACKAGE)) for p in modules()
               if p.name != "__main__.py" and not ast.get_docstring(ast.parse(p.read_text()))]
    assert missing == []
