"""Custom document properties (``docProps/custom.xml``): read one, add one surgically.

Adding a property rewrites only ``docProps/custom.xml`` — or, when the package has none,
appends that part and adds one Override to ``[Content_Types].xml`` and one Relationship to
``_rels/.rels``; every other member keeps its bytes. An existing property is never changed.
Text is inserted before the closing tag, so the part's own namespace prefixes are kept; a
part whose root is prefixed is refused (the caller decides what to do without it).
"""

from __future__ import annotations

import re
from pathlib import Path

from defusedxml import ElementTree

from ftc_office.atomic import atomic_replace
from ftc_office.errors import WritebackError
from ftc_office.xlsx.package import ZipPackage

PART = "docProps/custom.xml"
NS = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
VT = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
FMTID = "{D5CDD505-2E9C-101B-9397-08002B2CF9AE}"
CONTENT_TYPE = "application/vnd.openxmlformats-officedocument.custom-properties+xml"
REL_TYPE = ("http://schemas.openxmlformats.org/officeDocument/2006/relationships/"
            "custom-properties")


def _properties(zp: ZipPackage) -> dict[str, tuple[int, str]]:
    """name → (pid, text value) of the package's custom properties."""
    name = zp.find(PART)
    if name is None:
        return {}
    root = ElementTree.fromstring(zp.read(name))
    out: dict[str, tuple[int, str]] = {}
    for prop in root.findall(f"{{{NS}}}property"):
        value = next(iter(prop), None)
        pid = int(prop.get("pid", "1")) if prop.get("pid", "").isdigit() else 1
        out[prop.get("name", "")] = (pid, (value.text or "") if value is not None else "")
    return out


def read_property(path: Path, name: str) -> str | None:
    """The text of custom property ``name``, or None."""
    found = _properties(ZipPackage(path)).get(name)
    return found[1] if found else None


def _before_close(xml: bytes, tag: str, insert: str, where: str) -> bytes:
    close = f"</{tag}>".encode()
    at = xml.rfind(close)
    if at < 0:
        raise WritebackError(where, f"no closing </{tag}> in the package (a prefixed root?)",
                             "re-save the workbook in Excel")
    return xml[:at] + insert.encode() + xml[at:]


def add_property(path: Path, name: str, value: str) -> str:
    """Add text property ``name`` = ``value`` unless it exists; return its value."""
    zp = ZipPackage(path)
    props = _properties(zp)
    if name in props:
        return props[name][1]
    pid = max([p for p, _ in props.values()] + [1]) + 1
    # here alone: xml.sax.saxutils imports urllib.request (14 ms of `plan`'s start)
    from xml.sax.saxutils import escape, quoteattr

    prop = (f'<property fmtid="{FMTID}" pid="{pid}" name={quoteattr(name)}>'
            f"<vt:lpwstr>{escape(value)}</vt:lpwstr></property>")
    changed: dict[str, list[bytes]] = {}
    added: dict[str, bytes] = {}
    existing = zp.find(PART)
    if existing is not None:
        xml = zp.read(existing)
        # the part may declare vt: only on its own values: declare it on ours too
        prop = prop.replace("<vt:lpwstr>", f'<vt:lpwstr xmlns:vt="{VT}">')
        changed[existing] = [_before_close(xml, "Properties", prop, str(path))]
    else:
        added[PART] = (f'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
                       f'<Properties xmlns="{NS}" xmlns:vt="{VT}">{prop}</Properties>').encode()
        ct = zp.find("[Content_Types].xml") or "[Content_Types].xml"
        changed[ct] = [_before_close(zp.read(ct), "Types", f'<Override PartName="/{PART}" '
                                     f'ContentType="{CONTENT_TYPE}"/>', str(path))]
        rels = zp.find("_rels/.rels") or "_rels/.rels"
        rels_xml = zp.read(rels)
        ids = {int(m) for m in re.findall(rb'Id="rId(\d+)"', rels_xml)}
        rid = f"rId{max(ids | {0}) + 1}"
        changed[rels] = [_before_close(rels_xml, "Relationships", f'<Relationship Id="{rid}" '
                                       f'Type="{REL_TYPE}" Target="{PART}"/>', str(path))]

    def write(tmp: Path) -> None:
        with tmp.open("wb") as out:
            zp.write(out, changed, added)

    atomic_replace(path, write)
    return value
