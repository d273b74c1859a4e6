"""The run: reconcile, plan, compose, deliver, record — one module per phase.

``api`` (RunRequest → RunReport, the library entry point) drives ``runner`` (the loop),
which calls ``reconcile``, ``plan`` (read once, decide), ``compose`` (jobs per tenant),
``execute`` (ledger intent, confirmation) with ``deliver`` (the backend call), ``replan``
(this run's stamps onto the records in memory) and ``record`` (write-back, once per
tracker). ``narrate`` holds the words the summary uses; ``report`` what the run did.
"""
