"""A real Chromium page for tests (Debian's /usr/bin/chromium through Playwright's
executable_path), recording the dialogs it opened and the script errors it raised."""

from __future__ import annotations

import contextlib
import os
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]


def need_chromium() -> None:
    """Skip without Chromium, unless CI says everything must run (then fail)."""
    if Path(CHROMIUM).exists():
        return
    reason = f"{CHROMIUM} is missing (apt-get install chromium)"
    if os.environ.get("ORDERLOG_REQUIRE_ALL") == "1":
        pytest.fail(reason)
    pytest.skip(reason)


class Page:
    def __init__(self, page: Any, *, accept_dialogs: bool) -> None:
        self.page = page
        self.dialogs: list[str] = []
        self.errors: list[str] = []
        self.accept = accept_dialogs
        page.on("dialog", self._dialog)
        page.on("pageerror", lambda exc: self.errors.append(str(exc)))

    async def _dialog(self, dialog: Any) -> None:
        self.dialogs.append(dialog.message)
        await (dialog.accept() if self.accept else dialog.dismiss())


@contextlib.asynccontextmanager
async def chromium_page(base: str, *, accept_dialogs: bool = False) -> AsyncIterator[Page]:
    from playwright.async_api import async_playwright

    need_chromium()
    async with async_playwright() as p:
        chromium = await p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
        try:
            context = await chromium.new_context(
                base_url=base, viewport={"width": 1280, "height": 900}
            )
            yield Page(await context.new_page(), accept_dialogs=accept_dialogs)
        finally:
            await chromium.close()
