"""Deterministic OOXML packages: the same content always gives the same zip bytes.

python-docx and openpyxl stamp every member with the current time; `normalise_zip` gives
each member a fixed timestamp and fixed permissions, keeping the order, so equal content
gives equal bytes (the ledger's content hash of a Word or .xlsx attachment depends on it).
"""

from __future__ import annotations

import io
import struct
import sys
import zipfile

FIXED_TIME = (2026, 1, 1, 0, 0, 0)


def normalise_zip(data: bytes) -> bytes:
    """Rewrite a zip with fixed timestamps and order kept, so equal content → equal bytes."""
    fast = _fix_times(data)
    return fast if fast is not None else rewrite_zip(data)


def rewrite_zip(data: bytes) -> bytes:
    """:func:`normalise_zip` the slow way: every member read and deflated again."""
    src = zipfile.ZipFile(io.BytesIO(data))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as dst:
        for info in src.infolist():
            zi = zipfile.ZipInfo(info.filename, date_time=FIXED_TIME)
            zi.compress_type = zipfile.ZIP_DEFLATED
            zi.external_attr = 0o600 << 16
            dst.writestr(zi, src.read(info.filename))
    return out.getvalue()


_CREATE_SYSTEM = 0 if sys.platform == "win32" else 3  # what zipfile.ZipInfo writes here


def _fix_times(data: bytes) -> bytes | None:
    """The bytes :func:`normalise_zip` would write, by patching the timestamps in place.

    python-docx and openpyxl write each member with ``writestr`` (default ZipInfo, deflate at
    the default level), so rewriting the archive only changes the date and time fields;
    deflating every member again (0.8 MB of styles in a .docx) doubled the cost of a Word
    attachment. Anything else (data descriptors, extra fields, zip64, comments) → None, and
    the archive is rewritten the slow way.
    """
    y, mo, d, h, mi, sec = FIXED_TIME
    dos_time, dos_date = h << 11 | mi << 5 | sec // 2, (y - 1980) << 9 | mo << 5 | d
    try:
        infos = zipfile.ZipFile(io.BytesIO(data)).infolist()
        eocd = data.rfind(b"PK\x05\x06")
        if eocd < 0 or eocd + 22 != len(data):
            return None
        pos = struct.unpack_from("<I", data, eocd + 16)[0]
        out = bytearray(data)
        for info in infos:
            if (info.compress_type != zipfile.ZIP_DEFLATED or info.extra or info.comment
                    or info.flag_bits & ~0x800 or info.create_system != _CREATE_SYSTEM
                    or info.create_version != 20 or info.extract_version != 20
                    or data[pos:pos + 4] != b"PK\x01\x02"):
                return None
            n, m, k = struct.unpack_from("<HHH", data, pos + 28)
            struct.pack_into("<HH", out, pos + 12, dos_time, dos_date)
            struct.pack_into("<I", out, pos + 38, 0o600 << 16)
            head = info.header_offset
            if data[head:head + 4] != b"PK\x03\x04" or struct.unpack_from(
                    "<H", data, head + 28)[0]:
                return None
            struct.pack_into("<HH", out, head + 10, dos_time, dos_date)
            pos += 46 + n + m + k
        return bytes(out)
    except (zipfile.BadZipFile, struct.error, ValueError):
        return None
