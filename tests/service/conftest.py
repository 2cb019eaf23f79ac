"""The service tier (STYLE 11): each backend service's handlers called as functions on its real
PostgreSQL schema, in a fresh database per session, with no broker, gateway or process.

A service's runtime opens its database with ``ServiceRuntime.database()``; events a handler
emits land in that service's ``outbox`` table (no relay runs), where tests read them with
``emitted``. A consumed message is applied with ``rt.deliver`` / ``rt.deliver_batch``, exactly
as the broker's consumer applies it (inbox and unit of work included). Auth asks billing over
RPC; here that call goes to billing's handler in the same process (``InProcessRpc``).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from functools import partial
from pathlib import Path
from typing import Any

import pytest

from contracts import billing as billing_ops
from runtime.service import ServiceRuntime
from runtime.settings import Settings
from services.auth import handlers as auth_handlers
from services.auth.guard.captchas import CaptchaRenderer
from services.auth.guard.handlers import LoginGuard
from services.auth.passwords import Passwords
from services.billing import handlers as billing_handlers
from services.notify import handlers as notify_handlers
from services.notify.fanout.runner import FanoutRunner
from services.notify.mailer import MailSender
from services.readings import handlers as readings_handlers
from tests.support.infra import create_database, drop_database, servers, unique
from tests.support.service import InProcessRpc, ingest_billing, ingest_readings
from tools.billing_sim.dataset import Dataset, build_dataset

SERVICES = Path(__file__).resolve().parents[2] / "services"
CAPTCHA_TEST_SEED = "ibok-service-tests-captcha-seed"


@pytest.fixture(scope="session")
def service_dsn() -> Iterator[str]:
    """A fresh database for the session; each service migrates its own schema in it."""
    with servers() as (pg_base, _amqp, _vhosts):
        name = unique("ibok_service")
        asyncio.run(create_database(pg_base, name))
        try:
            yield f"{pg_base}/{name}"
        finally:
            asyncio.run(drop_database(pg_base, name))


@pytest.fixture(scope="session")
def settings(service_dsn: str) -> Settings:
    return Settings(
        postgres_dsn=service_dsn,
        # Never connected to: the service tier has no broker.
        amqp_url="amqp://guest:guest@127.0.0.1:9/",
        argon2_memory_kib=8192,
        argon2_time_cost=1,
        captcha_test_seed=CAPTCHA_TEST_SEED,
        db_pool_min=1,
        db_pool_max=4,
    )


def service_runtime(name: str) -> Any:
    """A session fixture: the ``name`` service's runtime with its schema migrated and its pool
    open (ServiceRuntime.database()), no broker."""

    @pytest.fixture(scope="session")
    async def runtime(settings: Settings) -> AsyncIterator[ServiceRuntime]:
        rt = ServiceRuntime(name, settings, SERVICES / name / "migrations")
        async with rt.database():
            yield rt

    return runtime


billing_rt = service_runtime("billing")
readings_rt = service_runtime("readings")
auth_rt = service_runtime("auth")
notify_rt = service_runtime("notify")


@pytest.fixture(scope="session")
def billing(billing_rt: ServiceRuntime) -> billing_handlers.Billing:
    return billing_handlers.Billing(billing_rt)


@pytest.fixture(scope="session")
def readings(readings_rt: ServiceRuntime) -> readings_handlers.Readings:
    return readings_handlers.Readings(readings_rt)


@pytest.fixture(scope="session")
def notify(notify_rt: ServiceRuntime) -> notify_handlers.Notify:
    sender = MailSender(notify_rt)
    fanout = FanoutRunner(notify_rt, sender.wake, batch=notify_rt.settings.fanout_batch)
    return notify_handlers.Notify(notify_rt, sender, fanout)


@pytest.fixture(scope="session")
def auth(auth_rt: ServiceRuntime, billing: billing_handlers.Billing) -> Iterator[Any]:
    renderer = CaptchaRenderer()
    rpc = InProcessRpc(
        {billing_ops.CHECK_REGISTRATION: partial(billing_handlers.check_registration, billing)}
    )
    yield auth_handlers.Auth(
        auth_rt,
        Passwords(auth_rt.settings),
        rpc,  # type: ignore[arg-type]
        LoginGuard(auth_rt, renderer),
    )
    renderer.close()


# --- data -----------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def dataset() -> Dataset:
    """The billing-system simulator's customers; give each test module its own customers."""
    return build_dataset(24, seed=11)


@pytest.fixture(scope="session")
async def loaded(
    dataset: Dataset, billing: billing_handlers.Billing, readings: readings_handlers.Readings
) -> Dataset:
    """The data set applied by billing's and readings' ingest, as their consumers apply it."""
    messages = list(dataset.messages(digest_iterations=2_000))
    await ingest_billing(billing, messages)
    await ingest_readings(readings, messages)
    return dataset
