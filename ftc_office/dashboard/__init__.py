"""The team lead's dashboard: one self-contained HTML file of the team's engagements.

``model`` turns the planned workspace and the ledger into the numbers (counted by
``ftc_office.tally``, the same computation as `plan` and the run's summary); ``charts``
draws them with matplotlib (imported only here, only when a dashboard is written);
``render`` fills ``dashboard.html.j2``.
"""
