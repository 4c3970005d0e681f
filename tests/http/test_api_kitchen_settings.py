"""The kitchen's workspace settings over HTTP: the station map and the allergen words are
changed by PATCH /settings, read back by GET, and described by the Workspace schema."""

from __future__ import annotations

from typing import Any

from support.api import assert_error
from support.schemas import component, errors


async def test_stations_and_allergen_words_round_trip(client: Any, workspace: Any) -> None:
    """A station map and allergen words PATCHed are what GET answers (names normalised), the
    other settings keep their values, and every answer fits the Workspace schema."""
    doc = (await client.get("/openapi.json")).json()
    schema = component(doc, "/components/schemas/Workspace")
    got = (await client.get(workspace.base, headers=workspace.auth("read"))).json()
    assert got["settings"]["stations"] == {"default": "kitchen", "items": {}}
    assert "peanut" in got["settings"]["allergen_words"]
    assert errors(schema, got) == []
    stations = {"default": "Grill", "items": {"Drinks": ["Latte", "*Tea"], "Bakery": ["cookie*"]}}
    resp = await client.patch(
        f"{workspace.base}/settings",
        headers=workspace.auth("admin"),
        json={"stations": stations, "allergen_words": ["Nut", "gluten"]},
    )
    assert resp.status_code == 200, resp.text
    assert errors(schema, resp.json()) == []
    got = (await client.get(workspace.base, headers=workspace.auth("read"))).json()
    assert got["settings"]["stations"] == {
        "default": "Grill",
        "items": {"Drinks": ["latte", "*tea"], "Bakery": ["cookie*"]},
    }
    assert got["settings"]["allergen_words"] == ["nut", "gluten"]
    assert got["settings"]["recall_window_seconds"] == 60


async def test_a_station_map_that_cannot_work_is_refused(client: Any, workspace: Any) -> None:
    """An item listed for two stations is a 422 naming it, and nothing changes."""
    url = f"{workspace.base}/settings"
    admin = workspace.auth("admin")
    bad = {"items": {"drinks": ["latte"], "bar": ["Latte"]}}
    body = assert_error(await client.patch(url, headers=admin, json={"stations": bad}), 422)
    assert body["field"] == "stations.items.bar[0]"
    assert "drinks" in body["message"]
    got = (await client.get(workspace.base, headers=workspace.auth("read"))).json()
    assert got["settings"]["stations"]["items"] == {}
    body = assert_error(await client.patch(url, headers=admin, json={"allergen_words": "nut"}), 422)
    assert body["field"] == "allergen_words"
