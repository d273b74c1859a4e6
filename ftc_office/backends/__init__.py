"""Delivery backends: they deliver one message and report what happened, nothing else.

Backends never touch the workbook or the ledger; the pipeline records their results.
"""
