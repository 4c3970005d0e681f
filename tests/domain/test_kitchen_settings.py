"""The kitchen's workspace settings: the station map and the allergen words (parsing, what is
refused, what a stored value this version cannot read becomes)."""

from __future__ import annotations

from typing import Any

import pytest

from orderlog.domain import workspace
from orderlog.errors import InvalidInput

STATIONS = workspace.BY_NAME["stations"]
ALLERGENS = workspace.BY_NAME["allergen_words"]


def test_stations_parse_trims_and_lowers_names_and_keeps_stations_as_written() -> None:
    """Station names keep their spelling (screens are paired with them); item names and
    patterns are trimmed, inner blanks collapsed and lower-cased (matched without case)."""
    parsed = STATIONS.parse(
        {"default": " Grill ", "items": {"Drinks": [" Iced  Tea ", "*LATTE"], "bakery": []}}
    )
    assert parsed == {"default": "Grill", "items": {"Drinks": ["iced tea", "*latte"], "bakery": []}}
    assert STATIONS.decode(STATIONS.encode(parsed)) == parsed
    assert STATIONS.parse({}) == {"default": "kitchen", "items": {}}


@pytest.mark.parametrize(
    ("value", "field"),
    [
        ([], "stations"),
        ({"default": "grill", "extra": 1}, "stations.extra"),
        ({"default": ""}, "stations.default"),
        ({"default": "a/b"}, "stations.default"),
        ({"items": "drinks"}, "stations.items"),
        ({"items": {"bad/name": []}}, "stations.items.bad/name"),
        ({"items": {"drinks": "latte"}}, "stations.items.drinks"),
        ({"items": {"drinks": [""]}}, "stations.items.drinks[0]"),
        ({"items": {"drinks": ["latte", "Latte "]}}, "stations.items.drinks[1]"),
        ({"items": {"drinks": ["latte"], "bar": ["LATTE"]}}, "stations.items.bar[0]"),
        ({"items": {"drinks": [], "DRINKS": []}}, "stations.items.DRINKS"),
        ({"items": {f"s{i}": [] for i in range(33)}}, "stations.items"),
        (
            {"items": {"a": [f"a{i}" for i in range(150)], "b": [f"b{i}" for i in range(51)]}},
            "stations.items",
        ),
        ({"items": {"drinks": ["x" * 101]}}, "stations.items.drinks[0]"),
    ],
)
def test_stations_refused_with_the_field(value: Any, field: str) -> None:
    """A map that is not one, a station that could not be paired, a name listed twice (in one
    station or two), too many stations or names: a 422 naming the place."""
    with pytest.raises(InvalidInput) as caught:
        STATIONS.parse(value)
    assert caught.value.field == field


def test_unreadable_stored_values_read_as_the_defaults() -> None:
    """A stored value this version cannot read (a later version's, since rolled back) is the
    default, never an error on every read of the workspace."""
    assert STATIONS.decode("{not json") == {"default": "kitchen", "items": {}}
    assert STATIONS.decode('{"default": "x", "routes": {}}') == {"default": "kitchen", "items": {}}
    assert ALLERGENS.decode('"nuts"') == list(ALLERGENS.default)
    read = workspace.read({})
    read["stations"]["items"]["x"] = ["y"]  # a copy: the default itself stays as it was
    assert workspace.read({})["stations"] == {"default": "kitchen", "items": {}}


def test_allergen_words_are_lower_case_unique_and_bounded() -> None:
    """Allergen words are trimmed and lower-cased; a word twice, an empty one, a long one or a
    list too long is refused; [] turns the banner off."""
    assert ALLERGENS.parse([" Peanut ", "Tree  Nut"]) == ["peanut", "tree nut"]
    assert ALLERGENS.parse([]) == []
    for value, field in [
        ("peanut", "allergen_words"),
        (["nut", "NUT"], "allergen_words[1]"),
        ([" "], "allergen_words[0]"),
        (["x" * 41], "allergen_words[0]"),
        ([f"w{i}" for i in range(101)], "allergen_words"),
    ]:
        with pytest.raises(InvalidInput) as caught:
            ALLERGENS.parse(value)
        assert caught.value.field == field


def test_settings_changes_take_the_new_kinds() -> None:
    """PATCH /settings's validation returns the parsed values of the new kinds."""
    current = workspace.read({})
    out = workspace.changes(
        current, {"stations": {"items": {"drinks": ["latte"]}}, "allergen_words": ["nut"]}
    )
    assert out == {
        "stations": {"default": "kitchen", "items": {"drinks": ["latte"]}},
        "allergen_words": ["nut"],
    }
