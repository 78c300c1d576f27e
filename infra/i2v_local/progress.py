"""The progress display on stderr: one line per job through queued, submitted, generating,
storing, done or failed."""

from __future__ import annotations

import time

from rich.console import Console
from rich.live import Live
from rich.table import Table

from i2v_local.runner import JobView

STYLES = {"uploading": "dim", "checking": "dim", "held": "yellow", "queued": "yellow", "submitting": "cyan",
          "submitted": "cyan", "generating": "blue", "storing": "magenta", "done": "bold green", "failing": "red",
          "failed": "bold red", "dead-letter": "bold red", "waits for budget": "bold yellow"}


def render(views: dict[str, JobView], started: float) -> Table:
    table = Table(title=f"i2v local run · {time.monotonic() - started:5.1f}s", title_justify="left", expand=False)
    table.add_column("upload", overflow="fold")
    table.add_column("phase")
    table.add_column("detail", overflow="fold")
    for view in views.values():
        detail = ""
        if view.phase == "generating" and view.progress is not None:
            detail = f"{view.progress:.0f}% (provider)"
        if view.notification:
            if view.notification.get("counts"):  # a batch's summary (i2v.batch/v1)
                counts = view.notification["counts"]
                detail = (f"batch: {counts['succeeded']} of {counts['total']} rows succeeded, {counts['failed']} "
                          f"failed ({view.manifest_path or view.notification['summary']['key']})")
            elif view.notification["status"] == "SUCCEEDED":
                detail = str(view.video_path or view.notification["output"]["key"])
            else:
                error = view.notification["error"]
                detail = f"{error['code']}: {error['message']}"
        table.add_row(view.key, f"[{STYLES.get(view.phase, 'none')}]{view.phase}[/]", detail)  # "[]" is no tag
    return table


class ProgressDisplay:
    def __init__(self, console: Console) -> None:
        self.console = console
        self.started = time.monotonic()
        self.live = Live(console=console, refresh_per_second=4, transient=False)

    def __enter__(self) -> ProgressDisplay:
        self.live.__enter__()
        return self

    def __exit__(self, *exc) -> None:
        self.live.__exit__(*exc)

    def update(self, views: dict[str, JobView]) -> None:
        self.live.update(render(views, self.started))
