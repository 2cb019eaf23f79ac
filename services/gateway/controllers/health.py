"""Operations: liveness, readiness (the broker reachable) and Prometheus metrics."""

from __future__ import annotations

from litestar import Controller, Response, get

from services.gateway.rpc import Rpc
from services.gateway.schemas.common import Health


class HealthController(Controller):
    path = "/health"
    tags = ["ops"]
    include_in_schema = False

    @get("/live")
    async def live(self) -> Health:
        return Health(status="live")

    @get("/ready")
    async def ready(self, rpc: Rpc) -> Response[Health]:
        # The gateway owns no database: it is ready when it can reach the services' broker.
        broker = rpc.ready
        return Response(
            Health(status="ready" if broker else "unavailable", checks={"broker": broker}),
            status_code=200 if broker else 503,
        )
