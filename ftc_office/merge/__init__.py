"""General mail merge: one message per row of a sheet, for ad-hoc mailings — rendered,
previewed, and delivered through the same backends, ledger and write-back as the playbook.

A merge template is a folder holding ``subject.txt`` and ``body.html``, ``body.txt`` and/or
``body.md`` (`template`). Every data row (`data`) that passes ``--where`` (`where`) becomes
one message to the addresses in its recipients columns, with its attachments (`compose`);
its ledger key comes from the row's key column, never its position. `send` delivers the
messages (dry run by default) and `status` projects each row's outcome back onto the data.
`schedule` holds the times to send (``--send-at``, a *Send At* column) and what is scheduled;
`tracker` narrows a tracker's rows with the playbook's plan (``--step``, ``--fm``); `review`
writes a dry run as the run's review page.
"""

from __future__ import annotations

from ftc_office.merge.compose import MergeOptions, MergeResult, as_test, merge, row_context
from ftc_office.merge.data import DataRow, MergeData, MergeError, identifier, read_data
from ftc_office.merge.send import SendReport, SendRequest, deliver
from ftc_office.merge.template import MergeTemplate, load_template
from ftc_office.merge.text import html_to_text, text_to_html
from ftc_office.merge.where import Where, parse_where

__all__ = [
    "DataRow", "MergeData", "MergeError", "MergeOptions", "MergeResult", "MergeTemplate",
    "SendReport", "SendRequest", "Where", "as_test", "deliver", "html_to_text", "identifier",
    "load_template", "merge", "parse_where", "read_data", "row_context", "text_to_html",
]
