"""Crash campaign: SIGKILL `ftc-office run` at named points and at random moments, rerun it to
completion, and count duplicates, lost records, lost mail and unreadable trackers.

    .venv/bin/python bench/robustness/crash_campaign.py [--random N] [--nth 1,7,20]
        [--wb-nth 1,2,3] [--seed S] [--tracker samples/tracker.xlsx]
        [--backends outbox,smtp,o365] [--json FILE]

The machinery (trials, the fake Graph that kills, the figures) is tests/crashlib.py, shared
with the fast campaign of tests/test_crash_resume.py; its docstring describes a trial. This
script runs the long campaign in real time and records figures and per-trial results as
JSON (bench/robustness/results-*.json).
"""

from __future__ import annotations

import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from crashlib import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
