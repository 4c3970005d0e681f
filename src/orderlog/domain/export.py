"""Orders -> CSV rows for spreadsheets and ranking bots. Pure, no I/O.

One row per order: who took, prepared and handed it over, its items, and the seconds it spent
in each non-terminal status of the workflow (summed when entered twice; the current status is
still open and left empty). The items cell is the order's items as a JSON array, the API's own
objects (``[{"name":"Tea","quantity":2}]``): any name, with ``;``, commas, quotes or a leading
``2x``, reads back exactly. Cells a spreadsheet would run as a formula (starting with
``= + - @``, or a tab / carriage return) are prefixed with a quote (OWASP "CSV injection").
With ``bom``, the file starts with a UTF-8 byte order mark: Excel then reads it as UTF-8 (emoji,
CJK) instead of the system's legacy code page.
"""

from __future__ import annotations

import csv
import io
from typing import Any

import orjson

from orderlog.domain.model import Workflow
from orderlog.domain.stats import stage_seconds, who
from orderlog.errors import InvalidInput

FORMULA = ("=", "+", "-", "@", "\t", "\r")
PEOPLE = ("customer", "cashier", "preparer", "handed_to")


def safe(value: Any) -> str:
    text = "" if value is None else str(value)
    return "'" + text if text.startswith(FORMULA) else text


def _stages(workflow: Workflow) -> list[str]:
    return [s.name for s in workflow.statuses if not s.terminal]


def _csv(lines: list[list[Any]]) -> bytes:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\r\n").writerows([safe(c) for c in cells] for cells in lines)
    return buf.getvalue().encode()


def header(workflow: Workflow) -> bytes:
    people = [f"{p}{suffix}" for p in PEOPLE for suffix in ("_id", "")]
    return _csv(
        [
            [
                "number",
                "id",
                "status",
                "created_at",
                "updated_at",
                *people,
                "items",
                *(f"seconds_{s}" for s in _stages(workflow)),
            ]
        ]
    )


BOM = "\ufeff".encode()
FLAGS = {"1": True, "true": True, "0": False, "false": False}


def wants_bom(values: list[str]) -> bool:
    """The ``bom`` query parameter: ``1``/``true`` (or ``0``/``false``), once."""
    if len(values) != 1 or values[0].strip().lower() not in FLAGS:
        raise InvalidInput("bom", "must be given once, as 1 or 0 (true or false)")
    return FLAGS[values[0].strip().lower()]


def _items(items: list[dict[str, Any]]) -> str:
    return orjson.dumps(items).decode()


def row(order: dict[str, Any], workflow: Workflow) -> list[Any]:
    spent = stage_seconds(order)
    people = []
    for p in PEOPLE:
        person = order.get(p)
        people += [who(person), person.get("username") if person else None]
    return [
        order["order_number"],
        order["id"],
        order["status"],
        order["created_at"],
        order["updated_at"],
        *people,
        _items(order["items"]),
        *(round(spent[s], 3) if s in spent else None for s in _stages(workflow)),
    ]


def rows(orders: list[dict[str, Any]], workflow: Workflow) -> bytes:
    return _csv([row(order, workflow) for order in orders])
