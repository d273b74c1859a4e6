"""Replace a file without ever leaving a half-written one, and keep dated backups.

The one atomic write of the toolkit (workbooks, .eml files, the token cache): `atomic_write`
and `atomic_write_bytes`; `atomic_replace` is its form for workbooks.
`Workbook.save(path)` truncates the target first, so a crash mid-save can leave a tracker
unreadable. `atomic_write` writes a temporary file in the same folder, fsyncs it, gives it
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
import time
from collections.abc import Callable
from pathlib import Path

from ftc_office.errors import WritebackError
from ftc_office.paths import native

_STAMP = "%Y%m%d-%H%M%S-%f"


def _fsync_dir(folder: Path) -> None:
    if os.name == "nt":  # directories cannot be opened for fsync on Windows
        return
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _new_file_mode() -> int:
    """The permission bits a new file gets under the current umask."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


RETRY_DELAYS = (0.05, 0.1, 0.2, 0.4, 0.8, 1.6)
"""Seconds to wait between tries of a rename Windows refuses (total about 3 s)."""


def _sharing_violation(exc: OSError) -> bool:
    """A rename refused because another program holds the file (Windows: winerror 32 or 5)."""
    return isinstance(exc, PermissionError) or getattr(exc, "winerror", None) in (5, 32)


def _replace_retrying(tmp: Path, target: Path) -> None:
    """`os.replace`, retried with a short backoff while another program (OneDrive, an
    antivirus, Excel's preview pane) holds the file; the last refusal is raised."""
    for delay in (*RETRY_DELAYS, None):
        try:
            os.replace(tmp, target)
            return
        except OSError as exc:
            if delay is None or not _sharing_violation(exc):
                if _sharing_violation(exc) and not isinstance(exc, PermissionError):
                    raise PermissionError(*exc.args) from exc
                raise
            time.sleep(delay)


def atomic_write(target: Path, write: Callable[[Path], object], *, mode: int | None = None,
                 refused: Callable[[PermissionError], Exception] | None = None,
                 durable: bool = True) -> None:
    """Call `write(tmp)` to produce the new file, then atomically put it at `target`.

    The temporary file (``.NAME.*.tmp`` in the same folder) is fsynced, given its permission
    bits, renamed over `target` and the folder fsynced, so a crash leaves the old file or the
    new one, never half of it. `mode` forces the permission bits; without it a replaced file
    keeps its own and a new one gets what the umask allows. On any failure the target is
    untouched, the temporary file removed and the error raised as it came, except that a
    rename refused with PermissionError raises `refused(error)` when given. ``durable=False``
    skips both fsyncs (still all or nothing, but a power cut may lose the file): for files
    written to be looked at and written again on the next run.
    """
    target = Path(native(target))  # a long Windows path gets its \\?\ prefix
    folder = target.parent
    fd, tmp_name = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=folder)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        write(tmp)
        if durable:
            with open(tmp, "rb+") as fh:
                os.fsync(fh.fileno())
        if mode is None:
            try:
                mode = stat.S_IMODE(target.stat().st_mode)
            except FileNotFoundError:
                mode = _new_file_mode()
        os.chmod(tmp, mode)
        try:
            _replace_retrying(tmp, target)
        except PermissionError as exc:
            if refused is None:
                raise
            raise refused(exc) from exc
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    if durable:
        _fsync_dir(folder)


def atomic_write_bytes(target: Path, data: bytes, *, mode: int | None = None,
                       durable: bool = True) -> None:
    """Put `data` at `target` atomically and (unless told not to) durably: `atomic_write`."""
    atomic_write(target, lambda tmp: tmp.write_bytes(data), mode=mode, durable=durable)


def atomic_replace(original: Path, write: Callable[[Path], object]) -> None:
    """`atomic_write` for a workbook: a rename refused by Excel's or a sync client's lock
    becomes a WritebackError that says so.

    On any failure (in `write` or later) the original is untouched and the temporary file is
    removed. A new file gets the permission bits the umask allows; a replaced one keeps its own.
    """
    def refused(exc: PermissionError) -> WritebackError:
        return WritebackError(str(original), "the file is in use by another program "
                              "(OneDrive, an antivirus or Excel's preview) and could not be "
                              "replaced; the original is intact",
                              "close it or wait, then run again")

    atomic_write(original, write, refused=refused)


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
