"""Wiring of the auth service: its operations, its dependencies and its HTTP side."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from contextlib import suppress
from datetime import timedelta
from functools import partial
from pathlib import Path
from typing import Any

from faststream.asgi import AsgiFastStream

from contracts import auth, topology
from contracts.base import Contract
from contracts.maintenance import GET_MAINTENANCE, SET_MAINTENANCE
from contracts.retention import CustomerRetentionEnded
from contracts.rpc import Operation
from runtime.clock import utc_now
from runtime.db import TRANSIENT_DB_ERRORS
from runtime.logs import get_logger
from runtime.service import ServiceRuntime
from runtime.settings import Settings, get_settings
from services.auth import (
    contact_handlers,
    handlers,
    password_handlers,
    store,
)
from services.auth.guard import login_codes
from services.auth.guard.captchas import CaptchaRenderer
from services.auth.guard.handlers import LoginGuard
from services.auth.maintenance import handlers as maintenance
from services.auth.mfa import handlers as mfa_handlers
from services.auth.mfa import store as mfa_store
from services.auth.passwords import Passwords
from services.auth.registration import handlers as registration
from services.auth.retention import handlers as retention
from services.auth.staff import handlers as staff_handlers

log = get_logger(__name__)

HOUSEKEEPING_SECONDS = 300.0


def refuse_test_seed_in_deployment(settings: Settings) -> None:
    """A captcha seed makes answers predictable: tests only, never with Secure cookies (HTTPS)."""
    if settings.captcha_test_seed.get_secret_value() and settings.cookie_secure:
        raise RuntimeError(
            "IBOK_CAPTCHA_TEST_SEED is for tests only and is refused while IBOK_COOKIE_SECURE=true"
        )


def create_app(settings: Settings | None = None) -> AsgiFastStream:
    settings = settings or get_settings()
    refuse_test_seed_in_deployment(settings)
    rt = ServiceRuntime("auth", settings, Path(__file__).parent / "migrations")
    renderer = CaptchaRenderer()
    a = handlers.Auth(rt, Passwords(rt.settings), rt.rpc_client(), LoginGuard(rt, renderer))
    customer: dict[Operation[Any, Any], Callable[..., Awaitable[Contract]]] = {
        auth.REGISTER: registration.register,
        auth.VERIFY_EMAIL: registration.verify_email,
        auth.NEW_CAPTCHA: handlers.new_captcha,
        auth.LOG_IN: handlers.log_in,
        auth.REQUEST_LOGIN_CODE: login_codes.request_login_code,
        auth.RESOLVE_SESSION: handlers.resolve_session,
        auth.LOG_OUT: handlers.log_out,
        auth.PROFILE: contact_handlers.profile,
        auth.CHANGE_PASSWORD: password_handlers.change_password,
        auth.REQUEST_PASSWORD_RESET: password_handlers.request_password_reset,
        auth.RESET_PASSWORD: password_handlers.reset_password,
        auth.SESSIONS: handlers.sessions,
        auth.END_SESSION: handlers.end_session,
        auth.UPDATE_CONTACT: contact_handlers.update_contact,
        auth.ACCOUNTS_OF_CUSTOMERS: staff_handlers.accounts_of_customers,
        auth.COMPLETE_MFA: mfa_handlers.complete_mfa,
        auth.MFA_STATUS: mfa_handlers.mfa_status,
        auth.BEGIN_TOTP: mfa_handlers.begin_totp,
        auth.CONFIRM_TOTP: mfa_handlers.confirm_totp,
        auth.NEW_RECOVERY_CODES: mfa_handlers.new_recovery_codes,
        auth.REMOVE_TOTP: mfa_handlers.remove_totp,
    }
    staff: dict[Operation[Any, Any], Callable[..., Awaitable[Contract]]] = {
        auth.STAFF_LOG_IN: staff_handlers.staff_log_in,
        auth.STAFF_LOG_OUT: staff_handlers.staff_log_out,
        auth.RESOLVE_STAFF_SESSION: staff_handlers.resolve_staff_session,
        auth.CREATE_STAFF_USER: staff_handlers.create_staff_user,
        auth.STAFF_USERS: staff_handlers.staff_users,
        auth.BLOCK_ACCOUNT: staff_handlers.block_account,
        auth.UNBLOCK_ACCOUNT: staff_handlers.unblock_account,
        auth.ACCOUNT_AUDIT: staff_handlers.account_audit,
        auth.STAFF_COMPLETE_MFA: mfa_handlers.staff_complete_mfa,
        auth.RESET_STAFF_MFA: mfa_handlers.reset_staff_mfa,
        SET_MAINTENANCE: maintenance.set_maintenance,
        GET_MAINTENANCE: maintenance.maintenance_state,
    }
    for operation, handler in {**customer, **staff}.items():
        rt.answer(operation, partial(handler, a))
    rt.consume(
        topology.events_queue("auth"),
        topology.EVENTS_EXCHANGE,
        {CustomerRetentionEnded: partial(retention.erase_customer, a)},
    )

    housekeeping: list[asyncio.Task[None]] = []

    async def start_housekeeping() -> None:
        if settings.captcha_test_seed.get_secret_value():
            log.warning("captcha.test_seed_active")
        housekeeping.append(asyncio.create_task(keep_house(a), name="auth-housekeeping"))

    async def stop_housekeeping() -> None:
        for task in housekeeping:
            task.cancel()
            with suppress(asyncio.CancelledError):
                await task
        renderer.close()

    rt.startup_hooks.append(start_housekeeping)
    rt.shutdown_hooks.append(stop_housekeeping)
    return rt.asgi_app()


async def keep_house(a: handlers.Auth) -> None:
    """Every few minutes, delete what can no longer be used (expired challenges, sessions...)."""
    while True:
        await asyncio.sleep(HOUSEKEEPING_SECONDS)
        now = utc_now()
        window = timedelta(minutes=a.rt.settings.login_throttle_window_minutes)
        try:
            counts = await store.purge_expired(
                a.rt.pool,
                failures_before=now - max(window, timedelta(days=1)),
                sessions_idle_before=now - a.idle,
                sessions_created_before=now - a.absolute,
            )
            counts["mfa_challenges"] = await mfa_store.purge_expired_challenges(a.rt.pool)
        except TRANSIENT_DB_ERRORS as exc:
            log.warning("housekeeping.unavailable", error=type(exc).__name__)
        else:
            log.info("housekeeping.done", **counts)
