"""Wiring of the auth service: its operations, its dependencies and its HTTP side."""

from __future__ import annotations

from functools import partial
from pathlib import Path

from faststream.asgi import AsgiFastStream

from contracts import auth
from runtime.service import ServiceRuntime
from runtime.settings import Settings, get_settings
from services.auth import handlers
from services.auth.passwords import Passwords


def create_app(settings: Settings | None = None) -> AsgiFastStream:
    rt = ServiceRuntime("auth", settings or get_settings(), Path(__file__).parent / "migrations")
    a = handlers.Auth(rt, Passwords(rt.settings), rt.rpc_client())
    rt.answer(auth.REGISTER, partial(handlers.register, a))
    rt.answer(auth.VERIFY_EMAIL, partial(handlers.verify_email, a))
    rt.answer(auth.LOG_IN, partial(handlers.log_in, a))
    rt.answer(auth.RESOLVE_SESSION, partial(handlers.resolve_session, a))
    rt.answer(auth.LOG_OUT, partial(handlers.log_out, a))
    rt.answer(auth.PROFILE, partial(handlers.profile, a))
    return rt.asgi_app()
