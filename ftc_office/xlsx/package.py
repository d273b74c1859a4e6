"""The zip layer of surgical write-back: read an OOXML package safely, rewrite a few members.

`ZipPackage` reads the whole file into memory once (so a sync client writing underneath us
cannot tear what we read), checks it is a plain zip rather than an encrypted OLE container,
and refuses zip64, zip bombs and damaged archives before anything is decompressed.

`ZipPackage.write` copies every untouched member's local header and *compressed* bytes
verbatim, and its central-directory entry verbatim except for the offset field; a changed
member keeps its name, extra field, timestamp and compression method, and only gets a new
CRC, sizes and data, deflated at the level its flags name (Excel marks its members "super
fast", zlib level 1; `deflate_level`). Member order is kept. New members (a worksheet part
added by `XlsxPatcher.ensure_sheet`) are deflated and appended after the existing ones, with the
timestamp of the package's first member so the same input gives the same bytes.
"""

from __future__ import annotations

import io
import struct
import zipfile
import zlib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import IO, BinaryIO

from ftc_office.errors import WritebackError
from ftc_office.xlsx.limits import OLE_MAGIC

MAX_FILE_BYTES = 200 * 1024 * 1024
MAX_TOTAL_UNCOMPRESSED = 500 * 1024 * 1024
MAX_RATIO = 1000
RATIO_CHECK_ABOVE = 1024 * 1024

_LOCAL_SIG = b"PK\x03\x04"
_CENTRAL_SIG = b"PK\x01\x02"
_EOCD_SIG = b"PK\x05\x06"
_EOCD64_LOCATOR_SIG = b"PK\x06\x07"
_DESCRIPTOR_SIG = b"PK\x07\x08"


@dataclass
class _Member:
    """One zip member: where its bytes are in the source and its raw central entry."""

    name: str
    method: int
    flags: int
    local_start: int
    data_start: int
    record_end: int  # end of data descriptor, if any
    central: bytes
    compress_size: int
    file_size: int


def deflate_level(flags: int) -> int:
    """The zlib level for a deflated member whose general purpose flags are `flags`: bits 1
    and 2 name the compression option it was written with (APPNOTE.TXT 4.4.4: normal,
    maximum, fast, super fast). Excel writes "super fast" (its parts are level-1 sized);
    Python's zipfile and openpyxl write "normal"."""
    return (6, 9, 2, 1)[(flags >> 1) & 3]


class ZipPackage:
    """A zip package held in memory, readable member by member and rewritable surgically."""

    def __init__(self, path: Path) -> None:
        """Read and check the package at `path`; raise WritebackError if it is unusable."""
        self.path = path
        self.where = str(path)
        try:
            size = path.stat().st_size
        except OSError as exc:
            raise WritebackError(self.where, f"cannot read the workbook ({exc.strerror})",
                                 "check the path and that you may read the file") from exc
        if size > MAX_FILE_BYTES:
            raise WritebackError(self.where, f"the workbook is {size // 2**20} MB, over the "
                                 f"{MAX_FILE_BYTES // 2**20} MB limit",
                                 "split the tracker or remove unused sheets and pictures")
        self.data = path.read_bytes()
        self._check_signature()
        self.members = self._read_central_directory()
        self.by_name = {m.name: m for m in self.members}
        self.by_lower = {m.name.lower(): m for m in self.members}
        self._check_sizes()
        self._zip = zipfile.ZipFile(io.BytesIO(self.data))

    def _fail(self, what: str, fix: str = "open it in Excel, save it as a normal .xlsx "
              "(Excel Workbook) and run again") -> WritebackError:
        return WritebackError(self.where, what, fix)

    def _check_signature(self) -> None:
        head = self.data[:8]
        if head == OLE_MAGIC:
            raise self._fail("the file is password-protected (encrypted) or an old .xls "
                             "workbook, not an .xlsx zip package",
                             "remove the password (File > Info > Protect Workbook) or save it "
                             "as .xlsx in Excel, then run again")
        if head[:4] != _LOCAL_SIG:
            raise self._fail("the file is not an Excel .xlsx/.xlsm workbook (not a zip package)")

    def _read_central_directory(self) -> list[_Member]:
        data = self.data
        eocd = data.rfind(_EOCD_SIG, max(0, len(data) - 65536 - 22))
        if eocd < 0 or eocd + 22 > len(data):
            raise self._fail("the workbook is damaged or truncated (no zip directory found)",
                             "restore it from a backup or re-save it in Excel")
        if data.rfind(_EOCD64_LOCATOR_SIG, max(0, eocd - 20), eocd) >= 0:
            raise self._fail("the workbook uses zip64, which write-back does not support")
        (_, disk, cd_disk, n_here, n_total, cd_size, cd_offset,
         comment_len) = struct.unpack("<4sHHHHIIH", data[eocd:eocd + 22])
        if disk or cd_disk or n_here != n_total or cd_offset + cd_size > eocd:
            raise self._fail("the workbook's zip directory is damaged or split over disks",
                             "restore it from a backup or re-save it in Excel")
        self.eocd_comment = data[eocd + 22:eocd + 22 + comment_len]
        members: list[_Member] = []
        pos = cd_offset
        try:
            for _ in range(n_total):
                if data[pos:pos + 4] != _CENTRAL_SIG:
                    raise ValueError("central entry signature")
                (flags, method, crc, csize, usize, n, m, k, offset) = struct.unpack(
                    "<8xHH4xIIIHHH8xI", data[pos:pos + 46])
                del crc
                raw_name = data[pos + 46:pos + 46 + n]
                central = data[pos:pos + 46 + n + m + k]
                pos += 46 + n + m + k
                if 0xFFFFFFFF in (csize, usize, offset):
                    raise self._fail("the workbook uses zip64, which write-back does not support")
                name = raw_name.decode("utf-8" if flags & 0x800 else "cp437")
                if data[offset:offset + 4] != _LOCAL_SIG:
                    raise ValueError("local header signature")
                ln, lm = struct.unpack("<HH", data[offset + 26:offset + 30])
                start = offset + 30 + ln + lm
                end = start + csize
                rec_end = end
                if flags & 0x08:
                    rec_end += 16 if data[end:end + 4] == _DESCRIPTOR_SIG else 12
                if rec_end > cd_offset:
                    raise ValueError("member runs past the directory")
                if flags & 0x01:
                    raise self._fail(f"zip member {name} is encrypted",
                                     "remove the password in Excel and run again")
                members.append(_Member(name, method, flags, offset, start, rec_end,
                                       central, csize, usize))
        except (struct.error, ValueError, UnicodeDecodeError) as exc:
            raise self._fail(f"the workbook is damaged or truncated ({exc})",
                             "restore it from a backup or re-save it in Excel") from exc
        return members

    def _check_sizes(self) -> None:
        total = 0
        for m in self.members:
            total += m.file_size
            if m.method not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                raise self._fail(f"zip member {m.name} uses compression method {m.method}",
                                 "re-save the workbook in Excel and run again")
            ratio = m.file_size // max(1, m.compress_size)
            if m.file_size > RATIO_CHECK_ABOVE and ratio > MAX_RATIO:
                raise self._fail(f"zip member {m.name} expands {ratio} times (a zip bomb?)",
                                 "do not use this file; ask for a clean copy")
        if total > MAX_TOTAL_UNCOMPRESSED:
            raise self._fail(f"the workbook would expand to {total // 2**20} MB, over the "
                             f"{MAX_TOTAL_UNCOMPRESSED // 2**20} MB limit",
                             "split the tracker or remove unused sheets and pictures")

    def find(self, name: str) -> str | None:
        """The stored spelling of member `name` (OPC names are case-insensitive), or None."""
        if name in self.by_name:
            return name
        m = self.by_lower.get(name.lower())
        return m.name if m else None

    def open(self, name: str) -> IO[bytes]:
        """Member `name` as a stream (CRC-checked at its end; a damaged member raises while
        it is read)."""
        return self._zip.open(name)

    def read(self, name: str) -> bytes:
        """The uncompressed bytes of member `name` (CRC-checked)."""
        try:
            return self._zip.read(name)
        except (zipfile.BadZipFile, zlib.error, EOFError, KeyError, ValueError) as exc:
            raise self._fail(f"zip member {name} is damaged ({exc})",
                             "restore the workbook from a backup or re-save it in Excel") from exc

    def write(self, out: BinaryIO, changed: Mapping[str, Iterable[bytes]],
              added: Mapping[str, bytes] | None = None) -> None:
        """Write the package to `out`, replacing the content of the members in `changed`
        (each given as chunks, compressed as they come so no whole copy is held), then
        appending the new members in `added` (name -> content)."""
        for name in added or {}:
            if self.find(name) is not None:
                raise ValueError(f"zip member {name} already exists")
        data = self.data
        central: list[bytes] = []
        pos = 0
        for m in self.members:
            offset = pos
            new = changed.get(m.name)
            if new is None:
                chunk = data[m.local_start:m.record_end]
                out.write(chunk)
                pos += len(chunk)
                cen = m.central
            else:
                crc = size = 0
                parts: list[bytes] = []
                comp = zlib.compressobj(deflate_level(m.flags), zlib.DEFLATED, -15)
                for chunk in new:
                    crc = zlib.crc32(chunk, crc)
                    size += len(chunk)
                    parts.append(comp.compress(chunk) if m.method == zipfile.ZIP_DEFLATED
                                 else chunk)
                if m.method == zipfile.ZIP_DEFLATED:
                    parts.append(comp.flush())
                payload = b"".join(parts)
                if size >= 0xFFFFFFFF or pos + len(payload) >= 0xFFFFFFFF:
                    raise self._fail(f"zip member {m.name} would need zip64",
                                     "split the tracker into smaller workbooks")
                flags = m.flags & ~0x08
                header = bytearray(data[m.local_start:m.data_start])
                struct.pack_into("<H", header, 6, flags)
                struct.pack_into("<III", header, 14, crc, len(payload), size)
                out.write(header)
                out.write(payload)
                pos += len(header) + len(payload)
                cen_b = bytearray(m.central)
                struct.pack_into("<H", cen_b, 8, flags)
                struct.pack_into("<III", cen_b, 16, crc, len(payload), size)
                cen = bytes(cen_b)
            cen_b2 = bytearray(cen)
            struct.pack_into("<I", cen_b2, 42, offset)
            central.append(bytes(cen_b2))
        for name, content in (added or {}).items():
            record, entry = self._new_member(name, content, pos)
            out.write(record)
            pos += len(record)
            central.append(entry)
        cd = b"".join(central)
        out.write(cd)
        out.write(struct.pack("<4sHHHHIIH", _EOCD_SIG, 0, 0, len(central), len(central),
                              len(cd), pos, len(self.eocd_comment)))
        out.write(self.eocd_comment)

    def _new_member(self, name: str, content: bytes, offset: int) -> tuple[bytes, bytes]:
        """Local header + deflated data, and the central entry, of a new member at `offset`."""
        comp = zlib.compressobj(6, zlib.DEFLATED, -15)
        payload = comp.compress(content) + comp.flush()
        crc = zlib.crc32(content)
        raw = name.encode("utf-8")
        flags = 0 if raw.isascii() else 0x800
        when = self.data[10:14]  # DOS time and date of the first member's local header
        if offset + len(payload) + len(content) >= 0xFFFFFFFF:
            raise self._fail(f"zip member {name} would need zip64",
                             "split the tracker into smaller workbooks")
        local = (struct.pack("<4sHHH", _LOCAL_SIG, 20, flags, zipfile.ZIP_DEFLATED) + when
                 + struct.pack("<IIIHH", crc, len(payload), len(content), len(raw), 0)
                 + raw + payload)
        central = (struct.pack("<4sHHHH", _CENTRAL_SIG, 20, 20, flags, zipfile.ZIP_DEFLATED)
                   + when + struct.pack("<IIIHHHHHII", crc, len(payload), len(content),
                                        len(raw), 0, 0, 0, 0, 0, offset) + raw)
        return local, central
