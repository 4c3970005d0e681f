"""Settings come from the environment; the README documents every one of them."""

from __future__ import annotations

from pathlib import Path

import pytest

from orderlog.settings import Settings, markdown_table

README = Path(__file__).resolve().parents[1] / "README.md"


def test_settings_read_from_environment() -> None:
    """Typed values are parsed from their environment variables."""
    s = Settings.from_env(
        {
            "ORDERLOG_PORT": "9001",
            "ORDERLOG_REDIS_TIMEOUT": "0.5",
            "ORDERLOG_LOG_JSON": "yes",
            "ORDERLOG_ALLOWED_ORIGINS": "http://a, http://b",
            "REDIS_URL": "redis://x:1",
        }
    )
    assert s.port == 9001
    assert s.redis_timeout == 0.5
    assert s.log_json is True
    assert s.allowed_origins == ("http://a", "http://b")
    assert s.redis_url == "redis://x:1"


def test_settings_bad_value_exits_with_message() -> None:
    """A malformed value stops the program with the variable named."""
    with pytest.raises(SystemExit, match="ORDERLOG_PORT"):
        Settings.from_env({"ORDERLOG_PORT": "eighty"})


def test_settings_table_in_readme_is_current() -> None:
    """The README's settings table is exactly the generated one."""
    text = README.read_text()
    block = text.split("<!-- settings -->\n", 1)[1].split("\n<!-- /settings -->", 1)[0]
    assert block.strip() == markdown_table().strip()
