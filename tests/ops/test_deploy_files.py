"""The deployment files, checked without a Docker engine (there is none in CI): the compose
file parses and has Redis with AOF, two or more orderlog replicas and a proxy with health
checks; the image runs the command the tests run; nginx passes WebSocket upgrades and SSE."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

from orderlog.cli import parser
from orderlog.settings import Settings

ROOT = Path(__file__).resolve().parents[2]


def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())  # type: ignore[no-any-return]


def test_deploy_compose_services_and_health_checks() -> None:
    """Redis 7 with appendfsync always on a volume, 2+ orderlog replicas on REDIS_URL, a proxy
    publishing a port; every service has a health check (orderlog's uses /readyz)."""
    services = compose()["services"]
    assert set(services) == {"redis", "orderlog", "proxy"}
    redis = services["redis"]
    assert redis["image"].startswith("redis:7")
    command = " ".join(redis["command"])
    assert "--appendonly yes" in command
    assert "--appendfsync always" in command
    assert "--hash-max-listpack-value 1024" in command  # orders kept compact (docs/deploy.md)
    assert any(v.endswith(":/data") for v in redis["volumes"])
    app = services["orderlog"]
    assert app["deploy"]["replicas"] >= 2
    assert app["environment"]["REDIS_URL"].startswith("redis://redis:")
    assert "/readyz" in " ".join(app["healthcheck"]["test"])
    assert app["depends_on"]["redis"]["condition"] == "service_healthy"
    envs = {env for env, _, _, _ in Settings.describe()}
    assert set(app["environment"]) <= envs, "compose sets a variable orderlog does not read"
    proxy = services["proxy"]
    assert proxy["ports"]
    assert any("nginx.conf" in v for v in proxy["volumes"])
    for name, service in services.items():
        assert service["healthcheck"]["test"], name


def test_deploy_image_runs_the_tested_command() -> None:
    """The Dockerfile is python:3.11-slim, non-root, pip-installs the package, and its CMD is
    `orderlog serve` (what tests/test_processes.py and test_cli.py run), as compose's is."""
    text = (ROOT / "Dockerfile").read_text()
    assert re.search(r"^FROM python:3\.11-slim$", text, re.M)
    assert re.search(r"^USER (?!root)\w+$", text, re.M)
    assert re.search(r"^RUN pip install (-e )?\. ", text, re.M)
    assert "/healthz" in text
    (cmd,) = re.findall(r"^CMD (\[.*\])$", text, re.M)
    assert yaml.safe_load(cmd) == ["orderlog", "serve"]
    assert compose()["services"]["orderlog"]["command"] == ["orderlog", "serve"]
    args = parser().parse_args(["serve"])
    assert args.func.__name__ == "cmd_serve"
    assert 'orderlog = "orderlog.cli:main"' in (ROOT / "pyproject.toml").read_text()


def test_deploy_nginx_passes_websocket_upgrades_and_sse() -> None:
    """nginx forwards Upgrade/Connection (HTTP/1.1) and does not buffer (SSE)."""
    conf = (ROOT / "deploy" / "nginx.conf").read_text()
    assert "proxy_http_version 1.1;" in conf
    assert "proxy_set_header Upgrade $http_upgrade;" in conf
    assert "proxy_set_header Connection $connection_upgrade;" in conf
    assert re.search(r"map \$http_upgrade \$connection_upgrade \{[^}]*default upgrade;", conf)
    assert "proxy_buffering off;" in conf
    assert "server orderlog:8000;" in conf
    assert conf.count("{") == conf.count("}")
