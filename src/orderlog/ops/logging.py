"""Log formats: plain lines or one JSON object per line (``ORDERLOG_LOG_JSON``), for orderlog's
loggers and uvicorn's, set up once by ``orderlog serve`` (``log_config``)."""

from __future__ import annotations

import logging
from typing import Any

import orjson


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and an access line's fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": self.formatTime(record, "%Y-%m-%dT%H:%M:%S"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "pid": record.process,  # which of several workers
        }
        access = getattr(record, "access", None)
        if access is not None:
            data.update(access)
        else:
            data["message"] = record.getMessage()
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return orjson.dumps(data).decode()


def log_config(json: bool, level: str = "INFO") -> dict[str, Any]:
    """``logging.config.dictConfig`` for ``uvicorn.run(log_config=...)``: orderlog's loggers and
    uvicorn's error log on stderr, plain or JSON; uvicorn's own access log is off (ours is on)."""
    formatter = (
        {"()": f"{__name__}.JSONFormatter"}
        if json
        else {"format": "%(asctime)s %(levelname)s [%(process)d] %(name)s %(message)s"}
    )
    handler = {"class": "logging.StreamHandler", "formatter": "main", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": formatter},
        "handlers": {"main": handler},
        "loggers": {
            "orderlog": {"handlers": ["main"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["main"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }
