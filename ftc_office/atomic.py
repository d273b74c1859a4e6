"""Replace a tracker without ever leaving a half-written file, and keep dated backups.

`Workbook.save(path)` truncates the target first, so a crash mid-save can leave a tracker
unreadable. `atomic_replace` writes a temporary file in the same folder, fsyncs it, gives it
the original's permission bits, renames it over the original (atomic on one file system) and
fsyncs the folder so the rename itself survives a power cut.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import shutil
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

from ftc_office.errors import WritebackError

_STAMP = "%Y%m%d-%H%M%S-%f"


def _fsync_dir(folder: Path) -> None:
    if os.name == "nt":  # directories cannot be opened for fsync on Windows
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_replace(original: Path, write: Callable[[Path], object]) -> None:
    """Call `write(tmp)` to produce the new file, then atomically put it at `original`.

    On any failure (in `write` or later) the original is untouched and the temporary file is
    removed. A new file gets the permission bits the umask allows; a replaced one keeps its own.
    """
    original = Path(original)
    folder = original.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{original.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        with open(tmp, "rb+") as fh:
            os.fsync(fh.fileno())
        try:
            mode = stat.S_IMODE(original.stat().st_mode)
        except FileNotFoundError:
            umask = os.umask(0)
            os.umask(umask)
            mode = 0o666 & ~umask
        os.chmod(tmp, mode)
        try:
            os.replace(tmp, original)
        except PermissionError as exc:
            raise WritebackError(str(original), "the file cannot be replaced (is it open in "
                                 "Excel or locked by a sync client?)",
                                 "close the workbook in Excel and run again") from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(folder)


def remove_stale_temps(original: Path) -> list[Path]:
    """Delete temporary files a killed run left beside ``original`` (``.NAME.*.tmp``).

    Only call this while holding the tracker's run lock: then no live run owns such a file.
    """
    removed = []
    for tmp in original.parent.glob(f".{original.name}.*.tmp"):
        try:
            tmp.unlink()
            removed.append(tmp)
        except OSError:
            continue
    return removed


def backup(original: Path, backup_dir: Path, keep: int = 20, max_age_days: int = 30) -> Path:
    """Copy `original` into `backup_dir` as ``STEM.YYYYmmdd-HHMMSS-ffffff.SUFFIX``; return it.

    Then prune this file's older backups: those older than `max_age_days` (by the time in
    their name, not their mtime, which the copy preserves) and all but the newest `keep`.
    The backup just made is never pruned.
    """
    original = Path(original)
    backup_dir = Path(backup_dir)
    backup_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    now = dt.datetime.now()
    dest = backup_dir / f"{original.stem}.{now.strftime(_STAMP)}{original.suffix}"
    n = 1
    while dest.exists():
        dest = backup_dir / f"{original.stem}.{now.strftime(_STAMP)}-{n}{original.suffix}"
        n += 1

    def copy(tmp: Path) -> None:
        shutil.copy2(original, tmp)

    atomic_replace(dest, copy)
    pattern = re.compile(re.escape(original.stem) + r"\.(\d{8}-\d{6}-\d{6})(?:-\d+)?"
                         + re.escape(original.suffix) + "$")
    found: list[tuple[dt.datetime, Path]] = []
    for p in backup_dir.iterdir():
        m = pattern.match(p.name)
        if m and p != dest:
            found.append((dt.datetime.strptime(m.group(1), _STAMP), p))
    found.sort(reverse=True)
    cutoff = now - dt.timedelta(days=max_age_days)
    for i, (when, p) in enumerate(found):
        if i >= keep - 1 or when < cutoff:
            p.unlink(missing_ok=True)
    return dest
