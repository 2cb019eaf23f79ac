"""Wiring of the gateway: controllers, the RPC client, errors, logs, metrics and OpenAPI."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from urllib.parse import urlsplit

from litestar import Litestar, Router
from litestar.config.compression import CompressionConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException
from litestar.openapi import OpenAPIConfig
from prometheus_client import start_wsgi_server

from contracts import auth as auth_contracts
from contracts import billing as billing_contracts
from runtime.logs import get_logger
from runtime.rpc_client import RpcClient
from runtime.settings import Settings, get_settings
from services.gateway.answers import SECURITY_SCHEMES, declare_answers
from services.gateway.api_reference import ApiReferencePlugin
from services.gateway.billing_cache import BillingCache
from services.gateway.controllers import contracts as contract_views
from services.gateway.controllers import invoices, settlement
from services.gateway.controllers.auth import AuthController
from services.gateway.controllers.complaints import ComplaintsController
from services.gateway.controllers.consumption import ConsumptionController
from services.gateway.controllers.health import HealthController
from services.gateway.controllers.inbox import InboxController
from services.gateway.controllers.me import MeController
from services.gateway.controllers.meters import MetersController
from services.gateway.controllers.mfa import (
    MeMfaController,
    MfaLoginController,
    StaffMfaLoginController,
    StaffMfaResetController,
)
from services.gateway.controllers.readings import ReadingsController
from services.gateway.controllers.staff_accounts import (
    StaffAccountsController,
    StaffUsersController,
)
from services.gateway.controllers.staff_auth import StaffAuthController
from services.gateway.controllers.staff_complaints import StaffComplaintsController
from services.gateway.controllers.staff_customers import StaffCustomersController
from services.gateway.controllers.staff_maintenance import StaffMaintenanceController
from services.gateway.controllers.staff_notify import StaffNotifyController
from services.gateway.controllers.staff_readings import StaffReadingsController
from services.gateway.controllers.terms import TermsController
from services.gateway.cookie_prefix import host_prefix_cookies
from services.gateway.edge import edge_middleware, wrap_edge
from services.gateway.events import GatewayEvents
from services.gateway.forwarded import ProxyTrust, parse_proxies
from services.gateway.limits import Limit, SlidingWindowLimiter
from services.gateway.maintenance import MaintenanceWatch
from services.gateway.portal import portal_router, portal_templates
from services.gateway.portal.errors import page_or_problem
from services.gateway.problems import EXCEPTION_HANDLERS, from_http
from services.gateway.protection import RateRule
from services.gateway.rpc import Rpc, RpcCaller
from services.gateway.sessions import SessionCache, current_session

log = get_logger(__name__)


MAX_BODY = 64 * 1024
ALL_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
SENSITIVE_PATHS = (
    "/api/v1/auth/",
    "/api/v1/staff/auth/",
)
# The portal's forms that log in, register, confirm or reset: the same limit as their API twins.
SENSITIVE_PAGES = ("/login", "/register", "/verify-email", "/password-reset", "/staff/login")


def rate_rules(settings: Settings) -> list[RateRule]:
    """Login, registration, password reset and captcha; rendered documents; everything else."""
    return [
        RateRule(
            "sensitive",
            SENSITIVE_PATHS,
            frozenset({"GET", "POST"}),
            Limit(settings.rate_limit_sensitive_per_minute, 60),
        ),
        RateRule(
            "sensitive-pages",
            SENSITIVE_PAGES,
            frozenset({"POST"}),
            Limit(settings.rate_limit_sensitive_per_minute, 60),
        ),
        RateRule(
            "expensive",
            ("/api/v1/",),
            frozenset({"GET"}),
            Limit(settings.rate_limit_expensive_per_minute, 60),
            suffixes=(".pdf", ".html", ".svg", "/document"),
        ),
        RateRule(
            "general", ("/api/",), ALL_METHODS, Limit(settings.rate_limit_general_per_minute, 60)
        ),
    ]


def create_app(
    settings: Settings | None = None,
    *,
    rpc_client: RpcCaller | None = None,
    events: GatewayEvents | None = None,
) -> Litestar:
    """The gateway; a test passes its own ``rpc_client`` (answers without the broker) and
    ``events`` (a queue that needs no broker), the real ones otherwise."""
    settings = settings or get_settings()
    amqp_url = settings.amqp_url_of("gateway")
    rpc_client = rpc_client or RpcClient(
        amqp_url, timeout=settings.rpc_timeout, name="ibok-gateway"
    )
    events = events or GatewayEvents(amqp_url)
    watch = MaintenanceWatch(rpc_client, events)
    session_cache = SessionCache(settings.session_cache_seconds)
    events.follow(auth_contracts.SessionsEnded.SCHEMA, session_cache.on_sessions_ended)
    events.on_reconnect.append(session_cache.clear)
    billing_cache = BillingCache(settings.billing_cache_seconds)
    events.follow(billing_contracts.BillingDataChanged.SCHEMA, billing_cache.on_data_changed)
    events.on_listening.append(billing_cache.on_listening)
    rpc = Rpc(rpc_client, billing_cache)

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        await rpc_client.start()
        app.state.maintenance = watch
        app.state.session_cache = session_cache
        app.state.registrations = SlidingWindowLimiter(
            Limit(settings.registrations_per_customer_per_hour, 3600)
        )
        await events.start()
        await watch.start()
        metrics_server, _ = start_wsgi_server(
            settings.gateway_metrics_port, addr=settings.http_host
        )
        log.info(
            "gateway.started",
            port=settings.gateway_port,
            metrics_port=settings.gateway_metrics_port,
        )
        try:
            yield
        finally:
            await asyncio.to_thread(metrics_server.shutdown)
            metrics_server.server_close()
            await watch.stop()
            await events.stop()
            await rpc_client.stop()

    api = Router(
        path="/api/v1",
        route_handlers=[
            AuthController,
            MeController,
            StaffAuthController,
            MfaLoginController,
            StaffMfaLoginController,
            MeMfaController,
            StaffMfaResetController,
            StaffAccountsController,
            StaffUsersController,
            MetersController,
            ReadingsController,
            ConsumptionController,
            StaffReadingsController,
            StaffMaintenanceController,
            InboxController,
            TermsController,
            StaffNotifyController,
            StaffCustomersController,
            contract_views.ContractsController,
            invoices.InvoicesController,
            settlement.SettlementController,
            ComplaintsController,
            StaffComplaintsController,
        ],
        dependencies={"session": Provide(current_session)},
    )
    app = Litestar(
        route_handlers=[api, HealthController, portal_router()],
        dependencies={
            "settings": Provide(lambda: settings, use_cache=True, sync_to_thread=False),
            "rpc": Provide(lambda: rpc, use_cache=True, sync_to_thread=False),
        },
        # Guards get no dependencies: the staff guards find the same client here.
        state=State({"rpc": rpc}),
        lifespan=[lifespan],
        # Paths no route matches get an HTML page where a person browses, a problem under /api.
        exception_handlers={**EXCEPTION_HANDLERS, HTTPException: page_or_problem(from_http)},
        template_config=portal_templates(),
        openapi_config=OpenAPIConfig(
            title="IBOK API",
            version="1.0.0",
            description="Internetowe Biuro Obsługi Klienta: the customer and staff API.",
            path="/schema",
            render_plugins=[ApiReferencePlugin()],
            components=SECURITY_SCHEMES,
        ),
        compression_config=CompressionConfig(backend="gzip", minimum_size=1024),
        request_max_body_size=MAX_BODY,
        debug=False,
    )
    edge = edge_middleware(
        always_hsts=settings.hsts,
        rules=rate_rules(settings),
        watch_of=lambda scope: getattr(scope["app"].state, "maintenance", None),
        proxies=ProxyTrust(parse_proxies(settings.trusted_proxies), settings.trusted_proxy_header),
        public_origin=public_origin(settings.public_url),
        max_body=MAX_BODY,
    )
    declare_answers(app)
    # The cookie renaming is outermost: the edge and the application see the plain names.
    host_prefix = host_prefix_cookies(settings.cookie_secure)
    return wrap_edge(app, lambda inner: host_prefix(edge(inner)))


def public_origin(url: str) -> str:
    """``https://portal.example.org`` of ``https://portal.example.org/ibok/``."""
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}".lower()
