"""The Roblox module installs the three ways its README shows: Rojo (default.project.json),
Wally (wally.toml, consumed through Rojo), and the generated model file (OrderLog.rbxmx). Each
layout is built in the engine stand-in and the module is required and used from it (a Studio
dry run: no server needed)."""

from __future__ import annotations

import importlib.util
import json
import tomllib
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

from support.roblox_engine import CLIENT, ROOT, Game, Internet

DRY_RUN_CALL = """
    local OrderLog = require(target)
    OrderLog.setupAPI(nil, "ws", {baseUrl = "https://orders.example.com"})
    return OrderLog.createOrder({UserId = -1, Name = "Player1"}, nil, {items = {"Tea"}}).id
"""


def _generator() -> Any:
    spec = importlib.util.spec_from_file_location("roblox_model", ROOT / "scripts/roblox_model.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _studio() -> Game:
    internet = Internet()
    internet.http.close()
    return Game(internet, studio=True, http=False)


def _build_rojo(game: Game, project_dir: Path, parent: Any) -> Any:
    """What `rojo build`/`rojo serve` makes of a project: its tree under `parent`."""
    project = json.loads((project_dir / "default.project.json").read_text())
    path = project_dir / project["tree"]["$path"]
    assert path.name.endswith(".lua")
    assert not path.name.endswith((".server.lua", ".client.lua"))  # a ModuleScript
    return game.engine.get("addScript")("ModuleScript", project["name"], path.read_text(), parent)[
        0
    ]


def test_roblox_model_file_matches_its_generator() -> None:
    """OrderLog.rbxmx is exactly what scripts/roblox_model.py makes of OrderLog.lua."""
    gen = _generator()
    committed = (CLIENT / "OrderLog.rbxmx").read_text()
    assert committed == gen.model((CLIENT / "OrderLog.lua").read_text()), (
        "run: python scripts/roblox_model.py"
    )


def test_roblox_model_file_installs_and_runs() -> None:
    """The model's one ModuleScript, inserted into ServerScriptService, works when required."""
    root = ET.fromstring((CLIENT / "OrderLog.rbxmx").read_text())
    items = root.findall("Item")
    assert [i.get("class") for i in items] == ["ModuleScript"]
    props = items[0].find("Properties")
    assert props is not None
    name = props.find("string[@name='Name']")
    source = props.find("ProtectedString[@name='Source']")
    assert name is not None
    assert source is not None
    assert name.text == "OrderLog"
    assert source.text == (CLIENT / "OrderLog.lua").read_text()
    game = _studio()
    target = game.add_module(name.text, source.text)
    game.globals.set("target", target)
    assert game.run(DRY_RUN_CALL) == "dry-run-1"


def test_roblox_rojo_project_installs_and_runs() -> None:
    """default.project.json builds a ModuleScript named OrderLog from OrderLog.lua."""
    game = _studio()
    target = _build_rojo(game, CLIENT, game.service("ServerScriptService"))
    game.globals.set("target", target)
    assert game.run("return target.Name .. ' ' .. target.ClassName") == "OrderLog ModuleScript"
    assert game.run(DRY_RUN_CALL) == "dry-run-1"


def test_roblox_wally_package_installs_and_runs() -> None:
    """wally.toml is a server package that ships what its Rojo project needs; installed the way
    `wally install` lays packages out (ServerPackages/_Index/<scope>_<name>@<version>/<name>
    plus a link module), requiring the link gives the module."""
    manifest = tomllib.loads((CLIENT / "wally.toml").read_text())
    package = manifest["package"]
    scope, name = package["name"].split("/")
    assert package["realm"] == "server"
    assert {"OrderLog.lua", "default.project.json"} <= set(package["include"])
    for shipped in package["include"]:
        assert (CLIENT / shipped).exists(), shipped

    game = _studio()
    new = game.engine.get("new")
    packages = new("Folder", "ServerPackages", game.service("ServerScriptService"))[0]
    index = new("Folder", "_Index", packages)[0]
    folder = new("Folder", f"{scope}_{name}@{package['version']}", index)[0]
    module = _build_rojo(game, CLIENT, folder)
    game.globals.set("module", module)
    game.run(f'module.Name = "{name}"')  # a package is named after itself inside _Index
    link = f'return require(script.Parent._Index["{scope}_{name}@{package["version"]}"]["{name}"])'
    target = game.engine.get("addScript")("ModuleScript", "OrderLog", link, packages)[0]
    game.globals.set("target", target)
    assert game.run(DRY_RUN_CALL) == "dry-run-1"
