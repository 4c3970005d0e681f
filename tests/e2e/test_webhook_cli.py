"""``orderlog webhook add | list | remove`` as a user runs them (subprocesses, embedded store)."""

from __future__ import annotations

import json
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from orderlog.cli import main
from orderlog.domain import webhooks
from orderlog.sealing import KEY_FILE
from support.processes import cli, env


@pytest.mark.slow
def test_webhook_cli_add_list_remove(tmp_path: Path) -> None:
    """add prints the secret once (with the events chosen, a kitchen one among them), list
    shows the webhooks and their health (never a secret or a token), a private address is
    refused with the reason, remove deletes; the server key is created in the data directory,
    readable by its owner only."""
    ws = cli("workspace", "create", "Bloxy Cafe", data_dir=tmp_path)["workspace_id"]
    made = cli(
        "webhook",
        "add",
        ws,
        "https://hooks.example.com/orders",
        "--events",
        "order.item_done,order.created",
        "--label",
        "sheet",
        data_dir=tmp_path,
    )
    assert made["secret"].startswith("whsec_")
    assert made["events"] == ["order.created", "order.item_done"]
    token = "k" * 68
    discord = cli(
        "webhook",
        "add",
        ws,
        f"https://discord.com/api/webhooks/123/{token}",
        "--format",
        "discord",
        "--statuses",
        "waiting_for_pickup",
        data_dir=tmp_path,
    )
    listed = cli("webhook", "list", ws, data_dir=tmp_path)["webhooks"]
    assert {w["id"] for w in listed} == {made["id"], discord["id"]}
    assert all(w["health"]["state"] == "pending" for w in listed)
    assert made["secret"] not in json.dumps(listed)
    assert token not in json.dumps(listed)
    refused = subprocess.run(
        [
            sys.executable,
            "-m",
            "orderlog",
            "webhook",
            "add",
            ws,
            "http://10.0.0.8/hook",
            "--data-dir",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env=env(),
        check=False,
    )
    assert refused.returncode != 0
    assert "10.0.0.8 is a private address" in refused.stderr
    cli("webhook", "remove", ws, made["id"], data_dir=tmp_path)
    assert [w["id"] for w in cli("webhook", "list", ws, data_dir=tmp_path)["webhooks"]] == [
        discord["id"]
    ]
    key = tmp_path / KEY_FILE
    assert stat.S_IMODE(key.stat().st_mode) == 0o600


def test_webhook_cli_help_lists_every_event(capsys: pytest.CaptureFixture[str]) -> None:
    """``webhook add --help`` names every event a webhook may ask for and the default ones."""
    with pytest.raises(SystemExit):
        main(["webhook", "add", "--help"])
    shown = " ".join(capsys.readouterr().out.split())
    assert all(name in shown for name in webhooks.EVENTS)
    assert "(default: order.created, order.status_changed, order.updated)" in shown
