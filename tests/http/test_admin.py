"""Workspace administration over HTTP: settings and their rules."""

from __future__ import annotations

from typing import Any

import pytest

from support.api import assert_error


@pytest.mark.parametrize(
    "patch",
    [
        {"age_warn_seconds": 600},  # past the default late age, 480
        {"age_late_seconds": 100},  # before the default warning age, 300
        {"age_warn_seconds": 200, "age_late_seconds": 200},
    ],
)
async def test_admin_settings_warn_age_must_come_before_late_age(
    client: Any, workspace: Any, patch: dict[str, int]
) -> None:
    """PATCH /settings that would put the warning age at or after the late age is a 422 naming
    age_warn_seconds, and changes nothing."""
    url = f"{workspace.base}/settings"
    resp = await client.patch(url, headers=workspace.auth("admin"), json=patch)
    body = assert_error(resp, 422)
    assert body["field"] == "age_warn_seconds"
    assert "age_late_seconds" in body["message"]
    got = await client.get(workspace.base, headers=workspace.auth("read"))
    assert got.json()["settings"]["age_warn_seconds"] == 300
    assert got.json()["settings"]["age_late_seconds"] == 480
    ok = await client.patch(
        url,
        headers=workspace.auth("admin"),
        json={"age_warn_seconds": 200, "age_late_seconds": 900},
    )
    assert ok.status_code == 200, ok.text
    assert ok.json()["settings"]["age_late_seconds"] == 900
