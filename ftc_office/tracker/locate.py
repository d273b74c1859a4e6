"""Which files a command's tracker arguments name: globs expanded here (Windows shells do
not expand them), repeats dropped, and a name that matches nothing refused with its near
matches ("did you mean"). Light on imports: `plan` starts reading the first tracker before
it loads the playbook."""

from __future__ import annotations

import difflib
import fnmatch
import glob
from collections.abc import Sequence
from pathlib import Path

from ftc_office.errors import UsageError


def expand_paths(patterns: Sequence[str]) -> list[Path]:
    """Expand globs ourselves (``trackers\\*.xlsx`` on Windows too); keep order, drop repeats.

    A file that does not exist, or a glob that matches nothing, is bad usage (exit code 2),
    refused before anything is read, with the folder's near matches as "did you mean"."""
    out: list[Path] = []
    seen: set[Path] = set()
    for pattern in patterns:
        if any(ch in pattern for ch in "*?["):
            matches = sorted(glob.glob(pattern, recursive=True))
            matches = [m for m in matches if not Path(m).name.startswith("~$")]
            if not matches:
                raise UsageError(pattern, "no file matches this pattern",
                                 _glob_hint(pattern))
            paths = [Path(m) for m in matches]
        else:
            paths = [Path(pattern)]
            if not paths[0].exists():
                raise UsageError(pattern, "file not found", _path_hint(paths[0]))
        for p in paths:
            key = p.resolve()
            if key not in seen:
                seen.add(key)
                out.append(p)
    return out


def _workbooks(folder: Path) -> list[str]:
    """The names of the workbooks in ``folder`` (no Excel owner files), sorted."""
    try:
        return sorted(p.name for p in folder.iterdir() if p.is_file()
                      and p.suffix.lower() in (".xlsx", ".xlsm") and not p.name.startswith("~$"))
    except OSError:
        return []


def near_names(name: str, names: Sequence[str]) -> list[str]:
    """``names`` that differ from ``name`` only in case, else its difflib near matches."""
    same = [n for n in names if n.casefold() == name.casefold()]
    if same:
        return same
    folded = {n.casefold(): n for n in names}
    return [folded[n] for n in difflib.get_close_matches(name.casefold(), folded, 3, 0.6)]


def _did_you_mean(folder: Path, names: Sequence[str]) -> str:
    shown = [str(folder / n) if str(folder) != "." else n for n in names]
    return "did you mean " + " or ".join(f"'{s}'" for s in shown) + "?"


def _missing_folder(folder: Path) -> str:
    """The hint for a path whose folder does not exist (its near-miss folders named)."""
    parent = folder.parent
    try:
        dirs = sorted(p.name for p in parent.iterdir() if p.is_dir())
    except OSError:
        dirs = []
    near = near_names(folder.name, dirs)
    return (f"there is no folder '{folder}'"
            + (f" ({_did_you_mean(parent, near)})" if near else "") + "; check the path")


def _path_hint(path: Path) -> str:
    """What to do about a file that is not there: its near matches in the folder."""
    folder = path.parent
    if not folder.is_dir():
        return _missing_folder(folder)
    files = [p.name for p in folder.iterdir() if p.is_file() and not p.name.startswith("~$")]
    near = near_names(path.name, files)
    return (f"{_did_you_mean(folder, near)} Check the path" if near else "check the path") \
        + " (quote it if it has spaces)"


def _glob_hint(pattern: str) -> str:
    """What to do about a glob that matches nothing: what the folder holds."""
    path = Path(pattern)
    folder = path.parent
    if any(ch in str(folder) for ch in "*?["):
        return "check the folder and the pattern, e.g. 'trackers/*.xlsx'"
    if not folder.is_dir():
        return _missing_folder(folder)
    books = _workbooks(folder)
    same_case = [n for n in books if fnmatch.fnmatch(n.casefold(), path.name.casefold())]
    if same_case:
        return _did_you_mean(folder, same_case[:3]) + " Names are case-sensitive here"
    where = "this folder" if str(folder) == "." else f"'{folder}'"
    if books:
        listed = ", ".join(books[:5]) + (", …" if len(books) > 5 else "")
        return f"the workbooks in {where} are {listed}; check the pattern"
    return f"{where} holds no .xlsx workbook; check the folder and the pattern"
