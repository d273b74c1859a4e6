"""The OOXML engine: reading, patching and extending .xlsx packages losslessly.

Knows nothing of trackers or the playbook: cells, rows, tables, styles, sheets and the zip
package, each byte of an untouched part copied through unchanged. Imports nothing of the
domain (only `ftc_office.errors`).

- `limits`: checks a package passes before any parser sees it (zip bombs, sizes, OLE, DTDs).
- `package`: the zip layer (read safely, rewrite a few members, copy the rest verbatim).
- `cells`: references, column letters, cell-text escaping and length, date serials.
- `parts`: a worksheet part (row index, pending edits, rendering) and styles.xml.
- `workbook`: the package side (relationships, sheets, styles, shared strings).
- `sheets`: adding a worksheet; `patch`: `XlsxPatcher`, reading and writing cells.
- `normalise`: deterministic zip bytes for generated .docx/.xlsx files.
"""
