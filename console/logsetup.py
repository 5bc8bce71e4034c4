"""Logging to a rotating file, never to the terminal (stdout is the Textual screen).

Call :func:`configure_logging` first thing, before anything imports ``onvif``: that package
calls ``logging.basicConfig`` at import time, which does nothing once the root logger has a
handler but would otherwise print over the screen.
"""

from __future__ import annotations

import contextlib
import logging
import logging.handlers
import os
from pathlib import Path

from cameras.credentials import redact_url

LOG_NAME = "centrale.log"
MAX_BYTES = 5 * 1024 * 1024
BACKUPS = 5
FORMAT = "%(asctime)s %(levelname)-7s %(process)d %(threadName)s %(name)s: %(message)s"


class RedactCredentials(logging.Filter):
    """Replace ``user:password@`` in URLs with ``user:***@`` in messages and tracebacks."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = redact_url(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact_url(record.exc_text)
        if record.stack_info:
            record.stack_info = redact_url(record.stack_info)
        return True


class _CentraleFileHandler(logging.handlers.RotatingFileHandler):
    """Marks the handler we installed, so that a second call replaces it."""


def log_path(data_dir: Path) -> Path:
    return data_dir / "logs" / LOG_NAME


def configure_logging(data_dir: Path, level: str | int = "INFO") -> Path:
    """Send every log record to ``data_dir/logs/centrale.log`` and nowhere else.

    Removes any handler already on the root logger (such as a ``basicConfig`` stream
    handler), captures ``warnings`` into the log and returns the log file's path.
    """
    path = log_path(data_dir)
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    handler = _CentraleFileHandler(path, maxBytes=MAX_BYTES, backupCount=BACKUPS, encoding="utf-8")
    handler.setFormatter(logging.Formatter(FORMAT))
    handler.addFilter(RedactCredentials())
    with contextlib.suppress(OSError):
        os.chmod(path, 0o600)

    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
        if isinstance(old, _CentraleFileHandler):
            old.close()
    root.addHandler(handler)
    root.setLevel(level.upper() if isinstance(level, str) else level)
    logging.captureWarnings(True)
    # Chatty libraries: their debug output is noise in an operator's log.
    for name in ("zeep", "httpx", "httpcore"):
        logging.getLogger(name).setLevel(max(root.level, logging.WARNING))
    return path
