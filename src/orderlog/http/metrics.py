"""``GET /metrics``: the Prometheus page (ops/metrics.py) for the metrics token, or for loopback
clients when no token is set."""

from __future__ import annotations

import hmac
import ipaddress

from prometheus_client.exposition import CONTENT_TYPE_PLAIN_0_0_4
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from orderlog.auth import bearer
from orderlog.errors import Forbidden, Unauthorized
from orderlog.http.state import state


def allowed(request: Request, token: str | None) -> None:
    """Raises Unauthorized/Forbidden unless the caller may read the metrics."""
    if token:
        given = bearer(request.headers.get("authorization"))
        if given is None or not hmac.compare_digest(given.encode(), token.encode()):
            raise Unauthorized("/metrics needs the metrics token (ORDERLOG_METRICS_TOKEN).")
        return
    host = request.client.host if request.client else ""
    try:
        loopback = ipaddress.ip_address(host).is_loopback
    except ValueError:
        loopback = False
    if not loopback:
        raise Forbidden("/metrics is served on loopback only unless ORDERLOG_METRICS_TOKEN is set.")


async def metrics_endpoint(request: Request) -> Response:
    st = state(request)
    allowed(request, st.settings.metrics_token)
    return Response(st.metrics.render(), media_type=CONTENT_TYPE_PLAIN_0_0_4)


routes = [Route("/metrics", metrics_endpoint, methods=["GET"], name="metrics")]
