"""``ibok provision``: a database role and a broker user per process, each allowed only its own.

PostgreSQL (docs/security.md, least privilege): every backend service gets a login role
``<prefix>_<service>`` that owns its schema and nothing else, with ``search_path`` set on the
role; ``<prefix>_migrate`` may become each of them (``SET ROLE``) to run migrations as the
schema's owner. None is a superuser or may create roles or databases. The prefix is the
database's name, since roles belong to the whole cluster.

RabbitMQ: the gateway, every service and the billing system get a user of their own in the
vhost, whose configure, write and read permissions name only the queues and exchanges it uses
(``broker_permissions``); the shared exchanges and queues are declared here, with the
administrative user.

Passwords come from the per-process settings (``IBOK_<PROCESS>_POSTGRES_DSN``,
``IBOK_<PROCESS>_AMQP_URL``) when given; else from a secret (HMAC), so that a second run gives
the same ones. Running it again changes nothing that is already right.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import re
import shlex
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from urllib.parse import quote, unquote, urlsplit, urlunsplit

import asyncpg
import httpx

from contracts import topology
from runtime import broker_topology, db
from runtime.settings import Settings

DATABASE_PROCESSES = (*topology.SERVICES, "migrate")
BROKER_PROCESSES = ("gateway", *topology.SERVICES, "billing-system")
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]*$")


@dataclass(frozen=True)
class Permissions:
    """RabbitMQ's three regular expressions over queue and exchange names."""

    configure: str
    write: str
    read: str


def _names(*names: str) -> str:
    return "^(" + "|".join(re.escape(name) for name in names) + ")$"


def _own_queues(service: str) -> str:
    return re.escape(f"ibok.{service}.") + ".*"


# What each service publishes to (its outbox and announcements) and binds its queues to.
_PUBLISHES = {
    "auth": (topology.EVENTS_EXCHANGE, topology.IBOK_OUT_EXCHANGE),
    "readings": (topology.EVENTS_EXCHANGE, topology.IBOK_OUT_EXCHANGE),
    "billing": (topology.EVENTS_EXCHANGE, topology.IBOK_OUT_EXCHANGE),
    "notify": (),
}
_BINDS_TO = {
    "auth": (topology.EVENTS_EXCHANGE,),
    "readings": (topology.EVENTS_EXCHANGE, topology.BILLING_IN_EXCHANGE),
    "billing": (topology.BILLING_IN_EXCHANGE,),
    "notify": (topology.EVENTS_EXCHANGE,),
}
# The default exchange: request/reply goes through it (requests to ``ibok.<service>.rpc.*``,
# replies to the caller's direct reply-to queue).
_DEFAULT_EXCHANGE = "amq.default"


def broker_permissions(process: str) -> Permissions:
    """The one derivation of each process's broker permissions from contracts/topology.py.

    A service configures (declares) and reads its own queues ``ibok.<service>.*``; writes to
    them (binding) and to the exchanges it publishes to, the dead-letter exchange (its queues'
    DLX, and where it parks bad messages) and the default exchange (RPC); reads the exchanges
    it binds from. The gateway has only its event queues ``ibok.gateway.*`` and RPC. The billing
    system publishes to ``billing.in`` and reads its own queue, nothing else.
    """
    if process == "billing-system":
        return Permissions(
            "^$", _names(topology.BILLING_IN_EXCHANGE), _names(topology.BILLING_SYSTEM_QUEUE)
        )
    own = _own_queues(process)
    if process == "gateway":
        return Permissions(
            f"^{own}$",
            f"^({own}|{re.escape(_DEFAULT_EXCHANGE)})$",
            f"^({own}|{re.escape(topology.EVENTS_EXCHANGE)})$",
        )
    writes = (*_PUBLISHES[process], topology.DEAD_LETTER_EXCHANGE, _DEFAULT_EXCHANGE)
    return Permissions(
        f"^{own}$",
        f"^({own}|{'|'.join(re.escape(name) for name in writes)})$",
        f"^({own}|{'|'.join(re.escape(name) for name in _BINDS_TO[process])})$",
    )


# --- who is who -------------------------------------------------------------------------------


def _identifier(name: str) -> str:
    if not _IDENTIFIER.match(name):
        raise ValueError(f"not a safe SQL identifier: {name!r}")
    return name


def database_of(dsn: str) -> str:
    return _identifier(urlsplit(dsn).path.lstrip("/") or "postgres")


def vhost_of(url: str) -> str:
    return unquote(urlsplit(url).path[1:]) or "/"


def role_name(database: str, process: str) -> str:
    """``<database>_<process>``: roles are cluster-wide, so each database has its own."""
    return _identifier(f"{database}_{process}")


def broker_user(vhost: str, process: str) -> str:
    """``<vhost>-<process>`` (``ibok-<process>`` in the default vhost): users are cluster-wide."""
    return f"{'ibok' if vhost == '/' else vhost}-{process}"


def with_login(url: str, user: str, password: str) -> str:
    parts = urlsplit(url)
    host = parts.netloc.rsplit("@", 1)[-1]
    login = quote(user, safe="") + (f":{quote(password, safe='')}" if password else "")
    return urlunsplit(parts._replace(netloc=f"{login}@{host}"))


def login_of(url: str) -> tuple[str, str]:
    parts = urlsplit(url)
    return unquote(parts.username or ""), unquote(parts.password or "")


def derived_password(secret: bytes, kind: str, user: str) -> str:
    return hmac.new(secret, f"{kind}:{user}".encode(), hashlib.sha256).hexdigest()[:32]


def process_settings(settings: Settings, secret: bytes) -> dict[str, dict[str, str]]:
    """Each process's own connection settings (``IBOK_*`` name to value): those configured,
    else the derived user with a password made from ``secret``."""
    database = database_of(settings.postgres_dsn)
    vhost = vhost_of(settings.amqp_url)
    env: dict[str, dict[str, str]] = {}
    for process in DATABASE_PROCESSES:
        own = getattr(settings, f"{process}_postgres_dsn")
        if not own:
            user = role_name(database, process)
            password = derived_password(secret, "postgres", user)
            own = with_login(settings.postgres_dsn, user, password)
        env.setdefault(process, {})[f"IBOK_{process.upper()}_POSTGRES_DSN"] = own
    for process in BROKER_PROCESSES:
        name = process.replace("-", "_")
        own = getattr(settings, f"{name}_amqp_url")
        if not own:
            user = broker_user(vhost, process)
            own = with_login(settings.amqp_url, user, derived_password(secret, "amqp", user))
        env.setdefault(process, {})[f"IBOK_{name.upper()}_AMQP_URL"] = own
    return env


def read_secret(path: str) -> bytes:
    """The secret the derived passwords come from, made (readable by its owner only) if missing."""
    try:
        with open(path, "rb") as existing:
            return existing.read()
    except FileNotFoundError:
        os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
        secret = os.urandom(32).hex().encode()
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "wb") as created:
            created.write(secret)
        return secret


# --- PostgreSQL -------------------------------------------------------------------------------


def scram_verifier(password: str, iterations: int = 4096) -> str:
    """The SCRAM-SHA-256 verifier PostgreSQL stores, made here so the password itself never
    travels in a statement (nor into the server's log)."""
    salt = os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", hashlib.sha256).digest()
    server_key = hmac.new(salted, b"Server Key", hashlib.sha256).digest()

    def b64(data: bytes) -> str:
        return base64.b64encode(data).decode()

    stored = b64(hashlib.sha256(client_key).digest())
    return f"SCRAM-SHA-256${iterations}:{b64(salt)}${stored}:{b64(server_key)}"


_ROLE_OPTIONS = "LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS"


async def _login_role(conn: asyncpg.Connection, role: str, password: str) -> None:
    exists = await conn.fetchval("SELECT true FROM pg_roles WHERE rolname = $1", role)
    verb = "ALTER" if exists else "CREATE"
    secret = ""
    if password:
        verifier = scram_verifier(password)
        secret = await conn.fetchval("SELECT format(' PASSWORD %L', $1::text)", verifier)
    await conn.execute(f"{verb} ROLE {role} {_ROLE_OPTIONS}{secret}")


async def _own_schema(conn: asyncpg.Connection, schema: str, role: str) -> None:
    """The schema and everything in it owned by ``role`` (objects migrated before provisioning
    belong to whoever ran the migrations then)."""
    await conn.execute(f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {role}")
    await conn.execute(f"ALTER SCHEMA {schema} OWNER TO {role}")
    # Tables first: their sequences and row types follow them.
    for kinds in (("r", "p", "v", "m", "f"), ("S", "c")):
        rows = await conn.fetch(
            "SELECT c.relname, c.relkind::text AS relkind FROM pg_class c"
            " WHERE c.relnamespace = $1::regnamespace AND c.relowner <> $2::regrole"
            " AND c.relkind::text = ANY($3::text[])",
            schema,
            role,
            list(kinds),
        )
        for row in rows:
            kind = {"S": "SEQUENCE", "c": "TYPE", "v": "VIEW", "m": "MATERIALIZED VIEW"}.get(
                row["relkind"], "FOREIGN TABLE" if row["relkind"] == "f" else "TABLE"
            )
            await conn.execute(f'ALTER {kind} {schema}."{row["relname"]}" OWNER TO {role}')
    for name in await conn.fetch(
        "SELECT t.typname FROM pg_type t WHERE t.typnamespace = $1::regnamespace"
        " AND t.typowner <> $2::regrole AND t.typtype IN ('e', 'd')",
        schema,
        role,
    ):
        await conn.execute(f'ALTER TYPE {schema}."{name["typname"]}" OWNER TO {role}')
    await conn.execute(f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC")
    await conn.execute(f"ALTER ROLE {role} SET search_path TO {schema}")


async def provision_database(admin_dsn: str, logins: Mapping[str, str]) -> None:
    """Roles and grants for ``logins`` (process to its DSN) in the admin DSN's database."""
    database = database_of(admin_dsn)
    conn = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        # One provisioning at a time per cluster (roles are cluster-wide).
        await conn.execute("SELECT pg_advisory_lock(hashtext('ibok.provision'))")
        roles: dict[str, str] = {}
        for process, dsn in logins.items():
            user, password = login_of(dsn)
            roles[process] = _identifier(user)
            await _login_role(conn, roles[process], password)
        everyone = ", ".join(roles.values())
        await conn.execute(f'REVOKE ALL ON DATABASE "{database}" FROM PUBLIC')
        await conn.execute(f'GRANT CONNECT ON DATABASE "{database}" TO {everyone}')
        await conn.execute("REVOKE ALL ON SCHEMA public FROM PUBLIC")
        for service in topology.SERVICES:
            if service in roles:
                await _own_schema(conn, service, roles[service])
        if "migrate" in roles:
            services = ", ".join(roles[s] for s in topology.SERVICES if s in roles)
            await conn.execute(f"GRANT {services} TO {roles['migrate']}")
    finally:
        await conn.close()


async def remove_roles(admin_dsn: str, database: str) -> None:
    """Drop the roles ``provision_database`` made for ``database`` (after the database is gone)."""
    conn = await asyncpg.connect(admin_dsn, timeout=10)
    try:
        for process in DATABASE_PROCESSES:
            await conn.execute(f"DROP ROLE IF EXISTS {role_name(database, process)}")
    finally:
        await conn.close()


# --- RabbitMQ ---------------------------------------------------------------------------------


def password_hash(password: str) -> str:
    """RabbitMQ's stored form (rabbit_password_hashing_sha256): base64(salt + sha256(salt + pw))."""
    salt = os.urandom(4)
    return base64.b64encode(salt + hashlib.sha256(salt + password.encode()).digest()).decode()


def broker_definitions(vhost: str, logins: Mapping[str, str]) -> dict[str, object]:
    """Users and permissions as a RabbitMQ definitions document (for ``import_definitions``)."""
    users, permissions = [], []
    for process, url in logins.items():
        user, password = login_of(url)
        users.append(
            {
                "name": user,
                "password_hash": password_hash(password),
                "hashing_algorithm": "rabbit_password_hashing_sha256",
                "tags": [],
            }
        )
        allowed = broker_permissions(process)
        permissions.append(
            {
                "user": user,
                "vhost": vhost,
                "configure": allowed.configure,
                "write": allowed.write,
                "read": allowed.read,
            }
        )
    return {"users": users, "permissions": permissions}


async def provision_broker(settings: Settings, logins: Mapping[str, str]) -> None:
    """The shared topology (with the administrative user), then the users and permissions."""
    await broker_topology.declare(settings.amqp_url, "provision")
    definitions = broker_definitions(vhost_of(settings.amqp_url), logins)
    if settings.amqp_management_url:
        parts = urlsplit(settings.amqp_management_url)
        base = urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[-1]))
        async with httpx.AsyncClient(
            auth=(unquote(parts.username or ""), unquote(parts.password or "")), timeout=30
        ) as client:
            answer = await client.post(f"{base.rstrip('/')}/api/definitions", json=definitions)
            answer.raise_for_status()
        return
    rabbitmqctl("import_definitions", stdin=json.dumps(definitions))


def rabbitmqctl(*args: str, stdin: str | None = None) -> str:
    """``rabbitmqctl -q args`` (``IBOK_RABBITMQCTL`` may name another command); its output."""
    command = shlex.split(os.environ.get("IBOK_RABBITMQCTL", "rabbitmqctl"))
    return subprocess.run(  # noqa: S603 - the operator's rabbitmqctl, fixed arguments
        [*command, "-q", *args],
        input=stdin,
        text=True,
        check=True,
        capture_output=True,
        timeout=120,
    ).stdout


def remove_broker_users(vhost: str) -> None:
    for process in BROKER_PROCESSES:
        try:
            rabbitmqctl("delete_user", broker_user(vhost, process))
        except subprocess.CalledProcessError:
            pass  # not there


# --- both -------------------------------------------------------------------------------------


async def provision(
    settings: Settings, secret: bytes, *, broker: bool = True
) -> dict[str, dict[str, str]]:
    """Provision every process (the database, and the broker unless ``broker`` is false);
    returns each one's connection settings (``process_settings``), those provisioned only."""
    env = process_settings(settings, secret)
    await db.ensure_database(settings.postgres_dsn)
    await provision_database(
        settings.postgres_dsn,
        {p: env[p][f"IBOK_{p.upper()}_POSTGRES_DSN"] for p in DATABASE_PROCESSES},
    )
    amqp = {p: f"IBOK_{p.replace('-', '_').upper()}_AMQP_URL" for p in BROKER_PROCESSES}
    if broker:
        await provision_broker(settings, {p: env[p][amqp[p]] for p in BROKER_PROCESSES})
    else:
        for process, name in amqp.items():
            del env[process][name]
    return env
