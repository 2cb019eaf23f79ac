"""Every setting of IBOK, read once from ``IBOK_*`` environment variables (docs/configuration.md)."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

from runtime import tls

SERVICE_PORTS = {"gateway": 8000, "auth": 8001, "readings": 8002, "billing": 8003, "notify": 8004}


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="IBOK_", extra="ignore")

    # The administrative connections: ``ibok provision`` and ``ibok migrate`` use them, and every
    # process whose own setting below is empty (docs/security.md, least privilege).
    postgres_dsn: str = "postgresql://postgres@127.0.0.1:5432/ibok"
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    # Each process's own database role and broker user (``ibok provision`` makes them); empty
    # means the administrative connection above.
    migrate_postgres_dsn: str = ""
    auth_postgres_dsn: str = ""
    readings_postgres_dsn: str = ""
    billing_postgres_dsn: str = ""
    notify_postgres_dsn: str = ""
    gateway_amqp_url: str = ""
    auth_amqp_url: str = ""
    readings_amqp_url: str = ""
    billing_amqp_url: str = ""
    notify_amqp_url: str = ""
    # The billing system's broker user (``ibok provision`` gives it billing.in and its queue).
    billing_system_amqp_url: str = ""
    # RabbitMQ's management API (``http://user:password@host:15672``) for ``ibok provision`` to
    # load users and permissions through; empty: ``rabbitmqctl`` on this machine.
    amqp_management_url: str = ""
    # TLS (docs/security.md): the CA that signed the database's and the broker's certificates.
    # With it every PostgreSQL connection verifies the server (sslmode=verify-full) and every
    # amqps:// connection verifies the broker; a DSN's own sslmode/sslrootcert wins.
    postgres_ca_file: str = ""
    amqp_ca_file: str = ""
    # Backups (``ibok backup``/``ibok restore``, docs/reliability.md): pgBackRest as the
    # cluster's owner, its configuration file (empty: pgBackRest's default), the stanza, and
    # where the broker's exported definitions go.
    backup_pgbackrest: str = "pgbackrest"
    backup_config: str = ""
    backup_stanza: str = "ibok"
    backup_dir: str = "var/backup"

    http_host: str = "127.0.0.1"
    gateway_port: int = SERVICE_PORTS["gateway"]
    auth_port: int = SERVICE_PORTS["auth"]
    readings_port: int = SERVICE_PORTS["readings"]
    billing_port: int = SERVICE_PORTS["billing"]
    notify_port: int = SERVICE_PORTS["notify"]
    # The gateway's /metrics, on a port of its own (not the one customers reach).
    gateway_metrics_port: int = 8005
    # Proxies (addresses or networks, comma-separated) whose forwarded headers the gateway
    # believes; none by default. The header they write: x-forwarded-for or forwarded (RFC 7239).
    trusted_proxies: str = ""
    trusted_proxy_header: Literal["x-forwarded-for", "forwarded"] = "x-forwarded-for"
    # The address customers reach the gateway at; links in emails point here.
    public_url: str = "http://127.0.0.1:8000"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = 8025
    # starttls, implicit (SMTPS, usually port 465) or off; the server's certificate is verified
    # against IBOK_SMTP_CA_FILE, else the system's CAs.
    smtp_tls: tls.SmtpTls = "off"
    smtp_ca_file: str = ""
    smtp_username: str = ""
    smtp_password: SecretStr = SecretStr("")
    mail_from: str = "IBOK <ibok@wodociagi.example>"
    smtp_timeout: float = Field(default=10.0, gt=0)
    # SMTP connections the notify sender keeps open, each sending one email at a time.
    smtp_connections: int = Field(default=2, ge=1, le=16)
    # Emails one sender claims at once, and how long the claim lasts before another may retry them.
    mail_batch: int = Field(default=50, ge=1, le=1000)
    mail_lease_seconds: float = Field(default=120.0, gt=0)
    # Backoff after a temporary failure: base, doubling per attempt, capped at 30 minutes.
    mail_retry_base_seconds: float = Field(default=5.0, gt=0)
    mail_max_attempts: int = Field(default=8, ge=1)
    # Recipients per transaction of a message to every customer (terms, announcements).
    fanout_batch: int = Field(default=1000, ge=1, le=10_000)

    log_level: str = "INFO"
    db_pool_min: int = Field(default=1, ge=0)
    db_pool_max: int = Field(default=10, ge=1)
    db_timeout: float = Field(default=5.0, gt=0)
    # Unacknowledged messages a consumer holds at once: how many requests a service runs
    # concurrently per queue.
    prefetch: int = Field(default=64, ge=1)
    # Batched consumers (bulk imports from the billing system): most messages applied in one
    # transaction, how long to wait for a batch to fill, and how many messages to hold at once
    # (enough to go on reading while batches wait for the database: docs/performance.md).
    batch_size: int = Field(default=1000, ge=1)
    batch_wait_ms: int = Field(default=50, ge=1)
    batch_prefetch: int = Field(default=10_000, ge=1)
    # A batched consumer holding deliveries without settling any for this long reports itself
    # stalled (not ready), starts a new batch worker and reconnects.
    batch_stall_seconds: float = Field(default=60.0, gt=0)
    rpc_timeout: float = Field(default=5.0, gt=0)
    outbox_poll_seconds: float = Field(default=1.0, gt=0)
    # Published outbox rows are deleted this long after publishing (hourly): they may carry
    # personal data (R14) and emailed tokens.
    outbox_keep_hours: float = Field(default=24.0, gt=0)

    # Requests per minute per client address at the gateway (each gateway process counts its own).
    rate_limit_sensitive_per_minute: int = Field(default=30, ge=1)
    rate_limit_expensive_per_minute: int = Field(default=60, ge=1)
    rate_limit_general_per_minute: int = Field(default=3000, ge=1)
    # Registration attempts per customer number an hour (whoever sends them, API and portal).
    registrations_per_customer_per_hour: int = Field(default=10, ge=1)
    # Send Strict-Transport-Security on every answer (it is always sent on https requests).
    hsts: bool = False

    # Seconds the gateway remembers who a customer session belongs to (0: ask auth every time).
    session_cache_seconds: float = Field(default=5.0, ge=0)
    # Seconds at most the gateway keeps billing's answers (invoices, contracts, settlement);
    # billing's change events drop them sooner, as soon as they change (0: ask billing each time).
    billing_cache_seconds: float = Field(default=300.0, ge=0)

    cookie_secure: bool = True
    session_idle_minutes: int = Field(default=15, ge=1)
    session_absolute_hours: int = Field(default=12, ge=1)
    email_token_hours: int = Field(default=48, ge=1)
    argon2_time_cost: int = Field(default=2, ge=1)
    argon2_memory_kib: int = Field(default=19_456, ge=8)
    argon2_parallelism: int = Field(default=1, ge=1)
    # R4: a captcha challenge's life, and login throttling beyond the captcha.
    captcha_minutes: int = Field(default=5, ge=1)
    # Tests only: derive each captcha's answer from this seed and the challenge id, so a test can
    # solve it. Empty (the default) means truly random answers; auth refuses to start with a
    # seed while cookies are Secure (that is, in a deployment).
    captcha_test_seed: SecretStr = SecretStr("")
    login_throttle_window_minutes: int = Field(default=15, ge=1)
    login_failures_per_login: int = Field(default=10, ge=1)
    login_failures_per_address: int = Field(default=50, ge=1)
    password_reset_minutes: int = Field(default=30, ge=1)
    password_resets_per_hour: int = Field(default=3, ge=1)

    # R8: a reading whose daily use since the previous one exceeds this multiple of the recent
    # daily average is accepted but flagged for staff.
    reading_jump_factor: Decimal = Field(default=Decimal("3.0"), gt=1)
    # R7.6: how many days before the legalizacja expires the customer is reminded (each once).
    legalization_reminder_days: tuple[int, ...] = (90, 30)
    # How often the readings service looks for meters whose legalizacja expires soon.
    legalization_check_hours: float = Field(default=24.0, gt=0)
    # R14: how often billing looks for customers whose retention ended (it also looks at start).
    retention_interval_seconds: float = Field(default=86_400.0, gt=0)

    @field_validator("smtp_tls", mode="before")
    @classmethod
    def _smtp_tls(cls, value: object) -> tls.SmtpTls:
        return tls.smtp_mode(value)

    @model_validator(mode="after")
    def _tls(self) -> Settings:
        """Every connection string carries its TLS settings, whoever reads it."""
        for name in type(self).model_fields:
            value = getattr(self, name)
            if name.endswith("postgres_dsn"):
                object.__setattr__(self, name, tls.postgres_dsn(value, self.postgres_ca_file))
            elif name.endswith("amqp_url"):
                object.__setattr__(self, name, tls.amqp_url(value, self.amqp_ca_file))
        return self

    def port_of(self, service: str) -> int:
        return int(getattr(self, f"{service}_port"))

    def postgres_dsn_of(self, service: str) -> str:
        """The DSN ``service`` (or ``migrate``) connects with: its own role when one is set."""
        return str(getattr(self, f"{service}_postgres_dsn", "")) or self.postgres_dsn

    def amqp_url_of(self, service: str) -> str:
        """The URL ``service`` connects to the broker with: its own user when one is set."""
        own = str(getattr(self, f"{service.replace('-', '_')}_amqp_url", ""))
        return own or self.amqp_url

    def has_own_broker_user(self, service: str) -> bool:
        return bool(getattr(self, f"{service}_amqp_url", ""))


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
