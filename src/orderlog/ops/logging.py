"""Log formats: plain lines or one JSON object per line (``ORDERLOG_LOG_JSON``), for orderlog's
loggers and uvicorn's, set up once by ``orderlog serve`` (``log_config``); and the access log's
one line per request (``access``).

A LogRecord, its formatting and a write and flush of stderr cost ~11 us per request, as much as
the rest of the edge: where ``orderlog serve`` set up the access log (an ``AccessHandler``
alone on ``orderlog.access``), ``access`` builds the line itself, the same text the formatter
would make, and the handler writes the lines of one event-loop iteration together. Anywhere
else (tests' caplog, an app embedding ``create_app`` with its own logging) each line is a
LogRecord on ``orderlog.access`` as usual.
"""

from __future__ import annotations

import asyncio
import logging
import os
import time
from typing import Any

import orjson

ACCESS = "orderlog.access"
PLAIN = "%(asctime)s %(levelname)s [%(process)d] %(name)s %(message)s"
JSON_TIME = "%Y-%m-%dT%H:%M:%S"

access_logger = logging.getLogger(ACCESS)


class JSONFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, and an access line's fields."""

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, Any] = {
            "time": self.formatTime(record, JSON_TIME),
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
    formatter = {"()": f"{__name__}.JSONFormatter"} if json else {"format": PLAIN}
    handler = {"class": "logging.StreamHandler", "formatter": "main", "stream": "ext://sys.stderr"}
    return {
        "version": 1,
        "disable_existing_loggers": False,
        "formatters": {"main": formatter},
        "handlers": {"main": handler, "access": {**handler, "class": f"{__name__}.AccessHandler"}},
        "loggers": {
            "orderlog": {"handlers": ["main"], "level": level, "propagate": False},
            ACCESS: {"handlers": ["access"], "level": level, "propagate": False},
            "uvicorn": {"handlers": ["main"], "level": level, "propagate": False},
            "uvicorn.access": {"handlers": [], "level": "WARNING", "propagate": False},
        },
    }


class AccessHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """The access log's handler: lines written once per event-loop iteration (one write and
    flush for all the requests that ended in it), at once where no loop runs."""

    def __init__(self, stream: Any = None) -> None:
        super().__init__(stream)
        self.pending: list[str] = []
        self.kind: str | None = None  # "plain" / "json": a format ``line`` can build itself
        self._second = -1
        self._asctime = ""

    def setFormatter(self, fmt: logging.Formatter | None) -> None:
        super().setFormatter(fmt)
        if isinstance(fmt, JSONFormatter):
            self.kind = "json"
        elif (
            type(fmt) is logging.Formatter
            and fmt._fmt == PLAIN
            and fmt.datefmt is None
            and fmt.converter is time.localtime
        ):
            self.kind = "plain"
        else:
            self.kind = None

    def line(
        self,
        client: str | None,
        method: str,
        route: str,
        status: int,
        seconds: float,
        key_id: str | None,
        now: float | None = None,
    ) -> None:
        """The access line, as its formatter would render the LogRecord ``access`` makes."""
        now = time.time() if now is None else now
        if self.kind == "json":
            data = {
                "time": time.strftime(JSON_TIME, time.localtime(now)),
                "level": "info",
                "logger": ACCESS,
                "pid": _pid(),
                **access_fields(client, method, route, status, seconds, key_id),
            }
            text = orjson.dumps(data).decode()
        else:
            second = int(now)
            if second != self._second:  # strftime once a second, not once a request
                self._second = second
                self._asctime = time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(now))
            text = (
                f"{self._asctime},{int((now - second) * 1000):03d} INFO [{_pid()}] {ACCESS} "
                f"{client or '-'} {method} {route} {status} {seconds * 1000:.1f}ms "
                f"key={key_id or '-'}"
            )
        self.pending.append(text + self.terminator)
        if len(self.pending) == 1:
            try:
                asyncio.get_running_loop().call_soon(self.write_pending)
            except RuntimeError:  # no loop: write it now
                self.write_pending()

    def write_pending(self) -> None:
        if not self.pending:
            return
        lines, self.pending = self.pending, []
        with self.lock:  # type: ignore[union-attr]
            try:
                self.stream.write("".join(lines))
                self.stream.flush()
            except Exception:  # as logging does: a log that cannot be written stops nothing
                self.handleError(logging.makeLogRecord({"msg": "access log lines"}))

    def emit(self, record: logging.LogRecord) -> None:
        self.write_pending()  # in order
        super().emit(record)

    def flush(self) -> None:
        self.write_pending()
        super().flush()


def access(
    client: str | None, method: str, route: str, status: int, seconds: float, key_id: str | None
) -> None:
    """One access line: client address, method, route template, status (a WebSocket's close
    code), duration and API key id."""
    handlers = access_logger.handlers
    if (
        len(handlers) == 1
        and type(handlers[0]) is AccessHandler
        and handlers[0].kind is not None
        and not access_logger.filters
        and not handlers[0].filters
        and not access_logger.propagate
        and access_logger.isEnabledFor(logging.INFO)
        and handlers[0].level <= logging.INFO
    ):
        handlers[0].line(client, method, route, status, seconds, key_id)
        return
    access_logger.info(
        "%s %s %s %d %.1fms key=%s",
        client or "-",
        method,
        route,
        status,
        seconds * 1000,
        key_id or "-",
        extra={"access": access_fields(client, method, route, status, seconds, key_id)},
    )


def access_fields(
    client: str | None, method: str, route: str, status: int, seconds: float, key_id: str | None
) -> dict[str, Any]:
    """An access line's fields, as the JSON format shows them."""
    return {
        "client": client,
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": round(seconds * 1000, 2),
        "key_id": key_id,
    }


_PID = [os.getpid()]  # os.getpid() is a system call; a forked child learns its own below
os.register_at_fork(after_in_child=lambda: _PID.__setitem__(0, os.getpid()))


def _pid() -> int:
    return _PID[0]
