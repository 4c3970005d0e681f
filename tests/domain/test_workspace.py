"""Workspace settings (pure): each kind parses what PATCH /settings may send, reads back what
the store kept, and describes itself in JSON Schema."""

from __future__ import annotations

from typing import Any

import jsonschema
import pytest

from orderlog.domain import workspace
from orderlog.errors import InvalidInput


def test_workspace_choice_setting_takes_only_its_choices() -> None:
    """pickup_names takes none, display_name or first_letters and nothing else (not another
    type, not another spelling); the error names the setting and lists the choices."""
    current = workspace.read({})
    assert current["pickup_names"] == "none"
    for choice in ("none", "display_name", "first_letters"):
        assert workspace.changes(current, {"pickup_names": choice}) == {"pickup_names": choice}
    for bad in ("Display_Name", "", "initials", 1, None, True, ["none"]):
        with pytest.raises(InvalidInput) as err:
            workspace.changes(current, {"pickup_names": bad})
        assert err.value.field == "pickup_names"
        assert "none, display_name, first_letters" in str(err.value)


def test_workspace_choice_setting_reads_an_unknown_stored_value_as_its_default() -> None:
    """A stored choice this version does not offer reads as the default; a known one as itself."""
    assert workspace.read({"pickup_names": "first_letters"})["pickup_names"] == "first_letters"
    assert workspace.read({"pickup_names": "full_name"})["pickup_names"] == "none"


@pytest.mark.parametrize("value", ["display_name", 0, "x", None])
def test_workspace_schema_agrees_with_parsing(value: Any) -> None:
    """The settings' JSON Schema accepts a pickup_names value exactly when parsing does."""
    validator = jsonschema.Draft202012Validator(workspace.schema())
    try:
        workspace.changes(workspace.read({}), {"pickup_names": value})
        parsed = True
    except InvalidInput:
        parsed = False
    assert validator.is_valid({"pickup_names": value}) is parsed
    assert validator.is_valid(workspace.read({}))
