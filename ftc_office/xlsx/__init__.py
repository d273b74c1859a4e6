"""The OOXML engine: reading, patching and extending .xlsx packages losslessly.

Knows nothing of trackers or the playbook: cells, rows, tables, styles, sheets and the zip
package, each byte of an untouched part copied through unchanged.
"""
