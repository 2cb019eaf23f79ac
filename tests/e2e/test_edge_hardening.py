"""The gateway's edge against an outside attacker's probe: forwarded headers, content types and
cross-site posts, control characters, security headers on every answer, the metrics port and
the CSRF cookies (docs/security.md, "Edge hardening")."""

from __future__ import annotations

import base64
import hashlib
import re
from collections.abc import Iterator

import httpx
import pytest

from tests.conftest import gateway_of_its_own, staff_client
from tests.support.customers import logged_in_client, registration, with_active_contract
from tests.support.infra import Infra
from tests.support.mail import MailSink, text_part
from tests.support.mfa import staff_login as staff_login_steps
from tools.billing_sim.dataset import Dataset
from tools.system import System

# The data set's customers of this file (indexes no other test uses).
PROXY_CUSTOMER, INPUT_CUSTOMER, COOKIE_CUSTOMER, OWNER_CUSTOMER = 25, 26, 27, 29
# The gateways of this file's own allow 5 logins a minute per client.
LOGIN_LIMIT = {"IBOK_RATE_LIMIT_SENSITIVE_PER_MINUTE": "5"}


@pytest.fixture(scope="module")
def unproxied_gateway(
    system: System, infra: Infra, mail_sink: MailSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """No proxy configured (the default): forwarded headers are the client's own words."""
    with gateway_of_its_own(
        infra, mail_sink, tmp_path_factory.mktemp("edge"), **LOGIN_LIMIT, IBOK_TRUSTED_PROXIES=""
    ) as running:
        yield running.url("gateway")


@pytest.fixture(scope="module")
def proxied_gateway(
    system: System, infra: Infra, mail_sink: MailSink, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """127.0.0.1 configured as the proxy: every test request arrives as if through it."""
    with gateway_of_its_own(
        infra,
        mail_sink,
        tmp_path_factory.mktemp("edge"),
        **LOGIN_LIMIT,
        IBOK_TRUSTED_PROXIES="127.0.0.1",
        IBOK_REGISTRATIONS_PER_CUSTOMER_PER_HOUR="3",
    ) as running:
        yield running.url("gateway")


def other_pesel(pesel: str) -> str:
    """Another well-formed PESEL (its check digit right), not this one."""
    digits = [int(c) for c in pesel[:10]]
    digits[9] = (digits[9] + 1) % 10
    weights = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
    check = (10 - sum(d * w for d, w in zip(digits, weights, strict=True)) % 10) % 10
    return "".join(map(str, digits)) + str(check)


def _login_statuses(gateway: str, forwarded_for: list[str]) -> list[int]:
    with httpx.Client(base_url=gateway, timeout=15) as client:
        return [
            client.post(
                "/api/v1/auth/login",
                json={"login": f"nobody.{n}", "password": "Wrong1234"},
                headers={"X-Forwarded-For": address},
            ).status_code
            for n, address in enumerate(forwarded_for)
        ]


# --- 1. forwarded headers ----------------------------------------------------------------------


def test_a_client_rotating_x_forwarded_for_stays_under_one_limit_without_a_proxy(
    unproxied_gateway: str,
) -> None:
    statuses = _login_statuses(unproxied_gateway, [f"198.51.100.{i}" for i in range(1, 9)])
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429, 429, 429]


def test_behind_a_configured_proxy_each_client_has_its_own_limit_and_spoofing_the_left_fails(
    proxied_gateway: str,
) -> None:
    # Eight clients behind the proxy: none is limited by the others.
    assert _login_statuses(proxied_gateway, [f"192.0.2.{i}" for i in range(1, 9)]) == [401] * 8
    # One client that prepends made-up addresses: the proxy's right-most entry is the client.
    spoofed = [f"10.9.9.{i}, 192.0.2.200" for i in range(1, 9)]
    statuses = _login_statuses(proxied_gateway, spoofed)
    assert statuses[:5] == [401] * 5
    assert statuses[5:] == [429, 429, 429]


async def test_sessions_record_the_address_the_configured_proxy_vouches_for(
    gateway: str,
    unproxied_gateway: str,
    proxied_gateway: str,
    mail_sink: MailSink,
    billing_data: Dataset,
) -> None:
    customer = with_active_contract(billing_data, PROXY_CUSTOMER)
    client = await logged_in_client(gateway, mail_sink, customer, "edge.proxy")
    credentials = {"login": "edge.proxy", "password": "Woda2026"}

    async def addresses() -> set[str]:
        sessions = (await client.get("/api/v1/me/sessions")).json()["items"]
        return {s["client_address"] for s in sessions}

    try:
        # No proxy configured: the header is the client's own word, and ignored; the session
        # has the address the connection came from (127.0.0.2, its own rate-limit bucket).
        async with httpx.AsyncClient(
            base_url=unproxied_gateway,
            timeout=15,
            transport=httpx.AsyncHTTPTransport(local_address="127.0.0.2"),
        ) as direct:
            login = await direct.post(
                "/api/v1/auth/login", json=credentials, headers={"X-Forwarded-For": "203.0.113.77"}
            )
            assert login.status_code == 200, login.text
        seen = await addresses()
        assert "127.0.0.2" in seen
        assert "203.0.113.77" not in seen
        # Through the configured proxy: the right-most address it vouches for, not the left.
        async with httpx.AsyncClient(base_url=proxied_gateway, timeout=15) as proxied:
            login = await proxied.post(
                "/api/v1/auth/login",
                json=credentials,
                headers={"X-Forwarded-For": "10.1.1.1, 203.0.113.88"},
            )
            assert login.status_code == 200, login.text
        seen = await addresses()
        assert "203.0.113.88" in seen
        assert "10.1.1.1" not in seen
    finally:
        await client.aclose()


# --- 2. registration tells nobody whether a customer or a login has an account -----------------


async def test_registration_answers_alike_for_no_customer_a_wrong_pesel_and_an_account(
    gateway: str, mail_sink: MailSink, billing_data: Dataset
) -> None:
    owner = with_active_contract(billing_data, OWNER_CUSTOMER)
    async with httpx.AsyncClient(base_url=gateway, timeout=15) as client:

        async def register(**changes: str) -> httpx.Response:
            body = registration(owner, "edge.owner") | changes
            return await client.post("/api/v1/auth/register", json=body)

        wrong_pesel = await register(identity_number=other_pesel(owner.identity_number))
        no_customer = await register(customer_number="K999999")
        assert (await register()).status_code == 201
        # The customer has an account now: the right PESEL with a new login, and with the
        # taken login, answer exactly as the mismatches did.
        again = await register(login="edge.owner.again", email="someone.else@example.com")
        taken_by_stranger = await register(identity_number=other_pesel(owner.identity_number))
        other = with_active_contract(billing_data, INPUT_CUSTOMER)
        login_probe = await client.post(
            "/api/v1/auth/register",
            json=registration(other, "edge.owner")
            | {"identity_number": other_pesel(other.identity_number)},
        )
    answers = [wrong_pesel, no_customer, again, taken_by_stranger, login_probe]
    assert {a.status_code for a in answers} == {422}
    assert len({a.content for a in answers}) == 1
    assert wrong_pesel.json()["code"] == "registration_not_eligible"
    # The owner learns of the attempt with the right data, at the account's address.
    warning = mail_sink.wait_for("edge.owner@example.com", subject_contains="zarejestrować")
    assert "edge.owner" in text_part(warning)
    with pytest.raises(AssertionError):
        mail_sink.wait_for("someone.else@example.com", timeout=1)


def test_registration_attempts_are_limited_per_customer_number_whatever_the_address(
    proxied_gateway: str,
) -> None:
    body = {
        "customer_number": "K000777",
        "contract_number": "U/1/1",
        "identity_kind": "pesel",
        "identity_number": "44051401359",
        "login": "edge.limit",
        "password": "Woda2026",
        "email": "edge.limit@example.com",
    }
    with httpx.Client(base_url=proxied_gateway, timeout=15) as client:
        statuses = [
            client.post(
                "/api/v1/auth/register",
                json=body,
                headers={"X-Forwarded-For": f"198.51.100.{100 + n}"},
            ).status_code
            for n in range(5)
        ]
        other_customer = client.post(
            "/api/v1/auth/register",
            json=body | {"customer_number": "K000778"},
            headers={"X-Forwarded-For": "198.51.100.200"},
        )
    assert statuses == [422, 422, 422, 429, 429]
    assert other_customer.status_code == 422


# --- 3. JSON only, no cross-site posts ---------------------------------------------------------


@pytest.mark.parametrize(
    "path", ["/api/v1/auth/login", "/api/v1/staff/auth/login", "/api/v1/auth/register"]
)
def test_a_body_that_is_not_declared_json_is_refused_with_415(gateway: str, path: str) -> None:
    answer = httpx.post(
        f"{gateway}{path}",
        content=b'{"login":"someone","password":"Wrong1234"}',
        headers={"Content-Type": "text/plain"},
    )
    assert answer.status_code == 415
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "unsupported_media_type"


@pytest.mark.parametrize(
    "path", ["/api/v1/auth/login", "/api/v1/staff/auth/login", "/api/v1/auth/register", "/login"]
)
@pytest.mark.parametrize(
    "headers",
    [{"Origin": "https://evil.example"}, {"Sec-Fetch-Site": "cross-site"}],
    ids=["origin", "sec-fetch-site"],
)
def test_a_cross_site_post_is_refused(gateway: str, path: str, headers: dict[str, str]) -> None:
    answer = httpx.post(
        f"{gateway}{path}",
        json={"login": "someone", "password": "Wrong1234"},
        headers=headers,
    )
    assert answer.status_code == 403
    assert answer.json()["code"] == "cross_site_request"


def test_a_same_origin_post_passes(gateway: str) -> None:
    answer = httpx.post(
        f"{gateway}/api/v1/auth/login",
        json={"login": "someone", "password": "Wrong1234"},
        headers={"Origin": gateway, "Sec-Fetch-Site": "same-origin"},
    )
    assert answer.status_code == 401


# --- 4. strict input ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def input_customer(
    gateway: str, mail_sink: MailSink, billing_data: Dataset
) -> httpx.AsyncClient:
    customer = with_active_contract(billing_data, INPUT_CUSTOMER)
    client = await logged_in_client(gateway, mail_sink, customer, "edge.input")
    yield client
    await client.aclose()


@pytest.fixture(scope="module")
async def input_staff(gateway: str, staff_logins: dict[str, tuple[str, str]]) -> httpx.AsyncClient:
    client = await staff_client(gateway, *staff_logins["admin"])
    yield client
    await client.aclose()


NUL_ANONYMOUS = [
    ("POST", "/api/v1/auth/login", {"login": "a\x00b", "password": "Wrong1234"}),
    ("POST", "/api/v1/staff/auth/login", {"login": "a\x00b", "password": "Wrong1234"}),
    ("POST", "/api/v1/auth/password-reset", {"login": "a\x00b"}),
    ("GET", "/static/a%00b.css", None),
]
NUL_CUSTOMER = [
    (
        "PUT",
        "/api/v1/me/contact",
        {
            "email": "edge.input@example.com",
            "correspondence_address": {
                "street": "ul. A\x00",
                "postal_code": "00-001",
                "city": "Warszawa",
            },
        },
    ),
    (
        "POST",
        "/api/v1/complaints",
        {
            "subject": "Faktura",
            "description": "Zła kwota.",
            "expected_resolution": "Korekta",
            "invoice_number": "F/1\x00",
        },
    ),
    ("GET", "/api/v1/readings?serial=%00", None),
]
NUL_STAFF = [
    ("GET", "/api/v1/staff/customers?q=ab%00", None),
    ("GET", "/api/v1/staff/accounts/a%00b/audit", None),
    ("POST", "/api/v1/staff/accounts/a%00b/unblock", {"reason": "x"}),
]


def _assert_refused(answer: httpx.Response) -> None:
    assert answer.status_code == 400, answer.text
    assert answer.headers["content-type"] == "application/problem+json"
    assert answer.json()["code"] == "invalid_characters"


@pytest.mark.parametrize(("method", "path", "body"), NUL_ANONYMOUS)
async def test_a_nul_byte_is_refused_with_400_anonymously(
    gateway: str, method: str, path: str, body: object
) -> None:
    async with httpx.AsyncClient(base_url=gateway) as client:
        _assert_refused(await client.request(method, path, json=body))


@pytest.mark.parametrize(("method", "path", "body"), NUL_CUSTOMER)
async def test_a_nul_byte_is_refused_with_400_for_a_customer(
    input_customer: httpx.AsyncClient, method: str, path: str, body: object
) -> None:
    _assert_refused(await input_customer.request(method, path, json=body))


@pytest.mark.parametrize(("method", "path", "body"), NUL_STAFF)
async def test_a_nul_byte_is_refused_with_400_for_staff(
    input_staff: httpx.AsyncClient, method: str, path: str, body: object
) -> None:
    _assert_refused(await input_staff.request(method, path, json=body))


def test_control_characters_in_a_portal_form_are_refused(gateway: str) -> None:
    answer = httpx.post(
        f"{gateway}/login",
        data={"login": "a\x01b", "password": "x", "csrf_token": "x"},
    )
    _assert_refused(answer)


async def test_a_complaint_keeps_its_line_breaks(input_customer: httpx.AsyncClient) -> None:
    answer = await input_customer.post(
        "/api/v1/complaints",
        json={
            "subject": "Pytanie",
            "description": "Pierwsza linia.\r\nDruga linia.\tTab.",
            "expected_resolution": "Wyjaśnienie",
        },
    )
    assert answer.status_code == 201, answer.text


@pytest.mark.parametrize("limit", ["1_0", "\u0661\u0660", " 10", "+10", "0x10"])
async def test_a_number_is_only_ascii_digits(input_customer: httpx.AsyncClient, limit: str) -> None:
    answer = await input_customer.get("/api/v1/readings", params={"limit": limit})
    assert answer.status_code == 400, answer.text


@pytest.mark.parametrize("day", ["2024-1-05", "20240105", "2024-01-05T00:00:00", "\u0662024-01-05"])
async def test_a_date_is_only_yyyy_mm_dd(input_customer: httpx.AsyncClient, day: str) -> None:
    answer = await input_customer.get("/api/v1/readings", params={"from": day})
    assert answer.status_code == 400, answer.text


# --- 5. security headers on every answer -------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("GET", "/api/v1/no-such-thing", 404),
        ("DELETE", "/api/v1/meters", 405),
        ("GET", "/no-such-page", 404),
        ("GET", "/static/no-such-file.css", 404),
        ("GET", "/health/live", 200),
        ("GET", "/schema/openapi.json", 200),
    ],
)
def test_every_answer_carries_the_security_headers(
    gateway: str, method: str, path: str, status: int
) -> None:
    answer = httpx.request(method, f"{gateway}{path}")
    assert answer.status_code == status
    assert answer.headers["x-content-type-options"] == "nosniff"
    assert answer.headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in answer.headers["content-security-policy"]
    assert answer.headers["referrer-policy"] == "same-origin"


# --- 8. metrics apart, CSRF cookies apart ------------------------------------------------------


def test_metrics_are_not_on_the_customer_port(gateway: str, gateway_metrics: str) -> None:
    assert httpx.get(f"{gateway}/metrics").status_code == 404
    metrics = httpx.get(gateway_metrics)
    assert metrics.status_code == 200
    assert "ibok_gateway_requests_total" in metrics.text


async def test_customer_and_staff_csrf_cookies_are_apart_and_end_with_their_session(
    gateway: str,
    mail_sink: MailSink,
    billing_data: Dataset,
    staff_logins: dict[str, tuple[str, str]],
) -> None:
    customer = with_active_contract(billing_data, COOKIE_CUSTOMER)
    client = await logged_in_client(gateway, mail_sink, customer, "edge.cookies")
    try:
        staff_login, staff_password = staff_logins["care"]
        # Both steps (password, then the second factor) in the customer's browser.
        staff = await staff_login_steps(client, staff_login, staff_password)
        assert staff.status_code == 200, staff.text
        customer_token, staff_token = client.cookies["ibok_csrf"], client.cookies["ibok_staff_csrf"]
        assert customer_token != staff_token
        # Logging out as staff ends the staff token only; the customer's stays usable.
        out = await client.post("/api/v1/staff/auth/logout")
        assert out.status_code == 204
        assert "ibok_staff_csrf" not in client.cookies
        assert client.cookies["ibok_csrf"] == customer_token
        out = await client.post("/api/v1/auth/logout")
        assert out.status_code == 204
        assert "ibok_csrf" not in client.cookies
    finally:
        await client.aclose()


# --- 6. the API reference from the gateway itself ----------------------------------------------


def test_the_api_reference_names_no_outside_origin_and_checks_its_files(gateway: str) -> None:
    page = httpx.get(f"{gateway}/schema")
    assert page.status_code == 200
    csp = page.headers["content-security-policy"]
    assert "http" not in csp and "*" not in csp and "unsafe" not in csp
    assert "script-src 'self'" in csp
    assert "http" not in page.text.replace('href="/', "").split("<body>")[0]
    sources = re.findall(r'(?:src|href)="([^"]+)" integrity="(sha384-[^"]+)"', page.text)
    assert len(sources) == 3  # Swagger UI's script and styles, and the script that starts it
    for url, integrity in sources:
        assert url.startswith("/schema/assets/")
        asset = httpx.get(f"{gateway}{url}")
        assert asset.status_code == 200
        digest = base64.b64encode(hashlib.sha384(asset.content).digest()).decode()
        assert integrity == f"sha384-{digest}"
    assert "<script>" not in page.text  # no inline script: the CSP allows none
