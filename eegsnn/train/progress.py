"""Progress bars for epochs and steps (rich), silent when stderr is not a terminal."""

from __future__ import annotations

import sys
from typing import Any


class TrainProgress:
    """Two rich bars (epochs, steps of the current epoch); a no-op when disabled.

    Args:
        total_epochs: number of epochs of the run.
        enabled: ``None`` -> enabled only if ``sys.stderr`` is a terminal.
    """

    def __init__(self, total_epochs: int, enabled: bool | None = None) -> None:
        if enabled is None:
            enabled = sys.stderr.isatty()
        self.enabled = bool(enabled)
        self._progress: Any = None
        self._epoch_task = self._step_task = None
        if self.enabled:
            from rich.console import Console
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                Progress,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )

            self._progress = Progress(
                TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                TimeElapsedColumn(), TimeRemainingColumn(), TextColumn("{task.fields[info]}"),
                console=Console(stderr=True), transient=False,
            )
            self._epoch_task = self._progress.add_task("epochs", total=total_epochs, info="")

    def __enter__(self) -> TrainProgress:
        if self._progress is not None:
            self._progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self._progress is not None:
            self._progress.stop()

    def start_epoch(self, epoch: int, total_steps: int) -> None:
        if self._progress is None:
            return
        if self._step_task is not None:
            self._progress.remove_task(self._step_task)
        self._step_task = self._progress.add_task(f"epoch {epoch + 1}", total=total_steps,
                                                  info="")

    def advance_steps(self, steps: int, info: str = "") -> None:
        if self._progress is not None and self._step_task is not None:
            self._progress.update(self._step_task, advance=steps, info=info)

    def end_epoch(self, completed: int, info: str = "") -> None:
        if self._progress is not None:
            self._progress.update(self._epoch_task, completed=completed, info=info)
