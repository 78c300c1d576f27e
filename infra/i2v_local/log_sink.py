"""Where the functions' logs and metrics go in a local run: a file (or nowhere), never the command
line's stdout. Powertools prints metrics (EMF and single metrics) with print(), so those modules'
print is pointed at the same stream."""

from __future__ import annotations

import functools
import logging
import os
from pathlib import Path
from typing import TextIO

_DISCARD = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115 - process-long sink for late log lines


class LogSink:
    def __init__(self, path: Path | None) -> None:
        self.path = path
        self._stream: TextIO | None = None

    def open(self) -> None:
        if self.path:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._stream = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        else:
            self._stream = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
        point_logs_at(self._stream)

    def close(self) -> None:
        if self._stream:
            # Workflow threads may still log after the cloud stops: point them at a sink that stays open.
            point_logs_at(_DISCARD)
            self._stream.close()
            self._stream = None


def point_logs_at(stream: TextIO) -> None:
    from aws_lambda_powertools.metrics import base as single_metrics
    from aws_lambda_powertools.metrics.provider.cloudwatch_emf import cloudwatch as emf

    from i2v.observability import logger

    for handler in logging.getLogger(logger.name).handlers:
        if isinstance(handler, logging.StreamHandler):
            handler.setStream(stream)
    for module in (emf, single_metrics):
        module.print = functools.partial(print, file=stream, flush=True)  # type: ignore[attr-defined]
