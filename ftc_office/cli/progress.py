"""The progress bar ``run`` and ``merge`` draw on a terminal (rich, on stderr)."""

from __future__ import annotations

from typing import Any


class ProgressBar:
    """A rich progress bar on stderr counting tenants done of the pass's tenants; started
    on the first update, a new bar for each pass, and gone without a trace when paused."""

    def __init__(self) -> None:
        from rich.console import Console
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
        from rich.table import Column

        self.progress = Progress(
            BarColumn(bar_width=20, table_column=Column(width=20, no_wrap=True)),
            MofNCompleteColumn(table_column=Column(no_wrap=True)),
            TextColumn("{task.description}", markup=False,
                       table_column=Column(ratio=1, no_wrap=True, overflow="ellipsis")),
            console=Console(stderr=True, highlight=False), transient=True, expand=True)
        self.task: Any = None
        self.total = self.last = -1
        self.live = False

    def update(self, done: int, total: int, what: str) -> None:
        """Before each job: ``done`` of ``total`` tenants in this pass, ``what`` it is."""
        if self.task is None or total != self.total or done < self.last:
            if self.task is not None:
                self.progress.remove_task(self.task)
            self.task, self.total = self.progress.add_task("", total=total), total
        self.last = done
        self.progress.update(self.task, completed=done, description=what)
        self.resume()

    def pause(self) -> None:
        """Take the bar off the screen (before a question, and at the end)."""
        if self.live:
            self.progress.stop()
            self.live = False

    def resume(self) -> None:
        """Show the bar again."""
        if not self.live and self.task is not None:
            self.progress.start()
            self.live = True


def progress_bar() -> ProgressBar:
    """The progress bar of ``run`` and ``merge`` (callers draw it only on a terminal)."""
    return ProgressBar()
