"""/openapi.json describes every HTTP route the app serves, and nothing it does not."""

from __future__ import annotations

from typing import Any

from starlette.routing import Mount, Route, WebSocketRoute

from orderlog.app import create_app


async def test_openapi_lists_every_route_and_method(client: Any, settings: Any) -> None:
    """Every Route of the app (method and path) is in the document, and vice versa."""
    doc = (await client.get("/openapi.json")).json()
    documented = {(path, method.upper()) for path, ops in doc["paths"].items() for method in ops}
    served = set()
    for route in create_app(settings).routes:
        if isinstance(route, Mount | WebSocketRoute):  # not HTTP: docs/protocol.md has them
            continue
        assert isinstance(route, Route)
        for method in route.methods or ():
            if method != "HEAD":
                served.add((route.path, method))
    assert served == documented


async def test_openapi_error_schema_is_referenced(client: Any) -> None:
    """Error responses share one schema with error, statusCode and message."""
    doc = (await client.get("/openapi.json")).json()
    assert doc["components"]["schemas"]["Error"]["required"] == ["error", "statusCode", "message"]
