"""Registration, verification, login, sessions, passwords and contact data (R1-R5, R13, R15-R17):
auth's handlers on auth's schema; billing's registration check answers in process."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from contracts import auth as msgs
from contracts import topology
from runtime.errors import DomainError
from services.auth import contact_handlers, handlers, password_handlers
from services.auth.handlers import Auth
from services.auth.registration import handlers as registering
from tests.support.customers import PASSWORD, registration, with_active_contract
from tests.support.service import count, emitted, outbox_mark
from tools.billing_sim.dataset import Dataset, SimCustomer


async def register(a: Auth, customer: SimCustomer, login: str, **changes: Any) -> str:
    """Register ``customer`` as ``login``; the emailed link's token (from the outbox)."""
    mark = await outbox_mark(a.rt)
    await registering.register(
        a, msgs.RegisterAccount(**{**registration(customer, login), **changes})
    )
    [(exchange, event)] = await emitted(a.rt, "auth.email-verification-requested.v1", after=mark)
    assert exchange == topology.EVENTS_EXCHANGE and event["login"] == login
    return str(event["token"])


async def verified(a: Auth, customer: SimCustomer, login: str) -> msgs.SessionOpened:
    token = await register(a, customer, login)
    await registering.verify_email(a, msgs.VerifyEmail(token=token))
    return await handlers.log_in(a, msgs.LogIn(login=login, password=PASSWORD))


async def refusal(call: Any) -> DomainError:
    with pytest.raises(DomainError) as caught:
        await call
    return caught.value


def customer(dataset: Dataset, index: int) -> SimCustomer:
    return with_active_contract(dataset, index)


async def test_customer_registers_verifies_logs_in_and_logs_out(
    auth: Auth, loaded: Dataset
) -> None:
    holder = customer(loaded, 8)
    token = await register(auth, holder, "Svc.Flow")
    early = await refusal(handlers.log_in(auth, msgs.LogIn(login="svc.flow", password=PASSWORD)))
    assert (early.code, early.status) == ("email_not_verified", 403)

    mark = await outbox_mark(auth.rt)
    await registering.verify_email(auth, msgs.VerifyEmail(token=token))
    contact = await emitted(auth.rt, "auth.customer-contact-changed.v1", after=mark)
    assert [(body["email"], body["customer_number"]) for _, body in contact] == [
        ("svc.flow@example.com", holder.number)
    ]

    session = await handlers.log_in(auth, msgs.LogIn(login="SVC.FLOW", password=PASSWORD))
    info = await handlers.resolve_session(auth, msgs.SessionRef(token=session.token))
    assert (info.login, info.customer_number) == ("Svc.Flow", holder.number)
    await handlers.log_out(auth, msgs.SessionRef(token=session.token))
    ended = await refusal(handlers.resolve_session(auth, msgs.SessionRef(token=session.token)))
    assert (ended.code, ended.status) == ("session_invalid", 401)


async def test_a_used_verification_link_cannot_be_used_again(auth: Auth, loaded: Dataset) -> None:
    token = await register(auth, customer(loaded, 9), "svc.once")
    await registering.verify_email(auth, msgs.VerifyEmail(token=token))
    again = await refusal(registering.verify_email(auth, msgs.VerifyEmail(token=token)))
    assert (again.code, again.status) == ("token_invalid", 422)


async def test_registration_not_matching_a_contract_is_refused_and_creates_nothing(
    auth: Auth, loaded: Dataset
) -> None:
    holder = customer(loaded, 10)
    accounts = await count(auth.rt.pool, "SELECT count(*) FROM accounts")
    mark = await outbox_mark(auth.rt)
    wrong = "00000000000" if holder.identity_number != "00000000000" else "11111111111"
    body = registration(holder, "svc.mismatch") | {"identity_number": wrong}

    problem = await refusal(registering.register(auth, msgs.RegisterAccount(**body)))

    assert (problem.code, problem.status) == ("registration_not_eligible", 422)
    assert await count(auth.rt.pool, "SELECT count(*) FROM accounts") == accounts
    assert await count(auth.rt.pool, "SELECT count(*) FROM outbox WHERE id > $1", mark) == 0


async def test_customer_with_only_an_ended_contract_cannot_register(
    auth: Auth, loaded: Dataset
) -> None:
    ended = next(c for c in loaded.customers if all(k.status == "ended" for k in c.contracts))
    request = msgs.RegisterAccount(
        customer_number=ended.number,
        contract_number=ended.contracts[0].contract_number,
        identity_kind=ended.identity_kind,  # type: ignore[arg-type]
        identity_number=ended.identity_number,
        login="svc.ended",
        password=PASSWORD,
        email="svc.ended@example.com",
    )
    problem = await refusal(registering.register(auth, request))
    assert (problem.code, problem.status) == ("registration_not_eligible", 422)


async def test_login_is_unique_without_regard_to_case_and_one_account_per_customer(
    auth: Auth, loaded: Dataset
) -> None:
    await register(auth, customer(loaded, 11), "Svc.Unique")
    taken = await refusal(
        registering.register(
            auth, msgs.RegisterAccount(**registration(customer(loaded, 12), "svc.UNIQUE"))
        )
    )
    assert (taken.code, taken.status) == ("login_taken", 409)
    twice = await refusal(
        registering.register(
            auth, msgs.RegisterAccount(**registration(customer(loaded, 11), "svc.second"))
        )
    )
    # One account per customer: a second registration answers as for a mismatch, and the
    # owner is told by email (the event notify turns into it).
    assert (twice.code, twice.status) == ("registration_not_eligible", 422)
    told = await auth.rt.pool.fetchval(
        "SELECT count(*) FROM outbox WHERE routing_key = 'auth.registration-repeated.v1'"
        " AND convert_from(body, 'UTF8') LIKE '%' || $1 || '%'",
        '"login":"Svc.Unique"',
    )
    assert told == 1


async def test_unknown_login_and_wrong_password_get_the_same_answer(
    auth: Auth, loaded: Dataset
) -> None:
    await verified(auth, customer(loaded, 13), "svc.same")
    wrong = await refusal(handlers.log_in(auth, msgs.LogIn(login="svc.same", password="Zle2026x")))
    unknown = await refusal(
        handlers.log_in(auth, msgs.LogIn(login="svc.nobody", password="Zle2026x"))
    )
    assert (wrong.code, wrong.status, wrong.detail) == (unknown.code, 401, unknown.detail)
    assert wrong.code == "invalid_credentials"
    # R4: the next attempt on that login needs the picture code, even with the right password.
    demanded = await refusal(handlers.log_in(auth, msgs.LogIn(login="svc.same", password=PASSWORD)))
    assert demanded.code == "captcha_required"


@pytest.mark.parametrize(
    ("password", "code"),
    [
        ("abc12", "password_length"),  # 5 characters
        ("Abcdefghij12345678901", "password_length"),  # 21 characters
        ("Abcdefghij", "password_composition"),  # letters only
        ("1234567890", "password_composition"),  # digits only
    ],
)
async def test_registration_refuses_passwords_outside_r3(
    auth: Auth, loaded: Dataset, password: str, code: str
) -> None:
    holder = customer(loaded, 14)
    # The contract's own limits would refuse these before the handler: build it unchecked.
    body = msgs.RegisterAccount.model_construct(
        **registration(holder, "svc.policy") | {"password": password}
    )
    problem = await refusal(registering.register(auth, body))
    assert (problem.code, problem.status) == (code, 422)
    accounts = "SELECT count(*) FROM accounts WHERE customer_number = $1"
    assert await count(auth.rt.pool, accounts, holder.number) == 0


async def test_password_reset_answers_the_same_for_unknown_logins_and_the_link_works_once(
    auth: Auth, loaded: Dataset
) -> None:
    session = await verified(auth, customer(loaded, 15), "svc.reset")
    mark = await outbox_mark(auth.rt)
    unknown = await password_handlers.request_password_reset(
        auth, msgs.RequestPasswordReset(login="svc.nobody")
    )
    known = await password_handlers.request_password_reset(
        auth, msgs.RequestPasswordReset(login="svc.reset")
    )
    assert unknown == known
    [(_, requested)] = await emitted(auth.rt, "auth.password-reset-requested.v1", after=mark)
    reset = msgs.ResetPassword(token=requested["token"], new_password="Nowe2026")
    await password_handlers.reset_password(auth, reset)
    again = await refusal(password_handlers.reset_password(auth, reset))
    assert again.code == "token_invalid"
    # Every session of the account ended; the new password opens a new one.
    ended = await refusal(handlers.resolve_session(auth, msgs.SessionRef(token=session.token)))
    assert ended.code == "session_invalid"
    assert await handlers.log_in(auth, msgs.LogIn(login="svc.reset", password="Nowe2026"))


async def test_customer_lists_own_sessions_without_tokens_and_ends_one(
    auth: Auth, loaded: Dataset
) -> None:
    first = await verified(auth, customer(loaded, 16), "svc.sessions")
    second = await handlers.log_in(auth, msgs.LogIn(login="svc.sessions", password=PASSWORD))
    page = await handlers.sessions(
        auth, msgs.SessionsQuery(account_id=first.account_id, current_token=second.token)
    )
    assert len(page.items) == 2 and [s.current for s in page.items] == [True, False]
    assert first.token not in page.model_dump_json() and second.token not in page.model_dump_json()

    older = page.items[1].id
    stranger = await refusal(
        handlers.end_session(auth, msgs.EndSession(account_id=uuid.uuid4(), session_id=older))
    )
    assert (stranger.code, stranger.status) == ("session_not_found", 404)
    await handlers.end_session(auth, msgs.EndSession(account_id=first.account_id, session_id=older))
    ended = await refusal(handlers.resolve_session(auth, msgs.SessionRef(token=first.token)))
    assert ended.code == "session_invalid"
    assert await handlers.resolve_session(auth, msgs.SessionRef(token=second.token))


async def test_contact_change_is_emitted_and_a_new_email_waits_for_its_link(
    auth: Auth, loaded: Dataset
) -> None:
    session = await verified(auth, customer(loaded, 17), "svc.contact")
    mark = await outbox_mark(auth.rt)
    change = msgs.UpdateContact(
        account_id=session.account_id,
        email="svc.contact.new@example.com",
        phone="+48600100200",
        marketing_consent=True,
    )
    # A new address needs the current password; without it nothing changes.
    unproven = await refusal(contact_handlers.update_contact(auth, change))
    assert (unproven.code, unproven.status) == ("current_password_required", 422)
    assert await emitted(auth.rt, "auth.customer-contact-changed.v1", after=mark) == []
    profile = await contact_handlers.update_contact(
        auth, change.model_copy(update={"current_password": PASSWORD})
    )
    assert (profile.phone, profile.marketing_consent) == ("+48600100200", True)
    assert (profile.email, profile.pending_email) == (
        "svc.contact@example.com",
        "svc.contact.new@example.com",
    )
    [(_, changed)] = await emitted(auth.rt, "auth.customer-contact-changed.v1", after=mark)
    assert (changed["phone"], changed["email"]) == ("+48600100200", "svc.contact@example.com")
    [(exchange, _)] = await emitted(auth.rt, "contact-data.changed.v1", after=mark)
    assert exchange == topology.IBOK_OUT_EXCHANGE
    [(_, link)] = await emitted(auth.rt, "auth.email-verification-requested.v1", after=mark)
    assert link["purpose"] == "email_change"
    [(_, notice)] = await emitted(auth.rt, "auth.email-change-requested.v1", after=mark)
    assert (notice["old_email"], notice["login"]) == ("svc.contact@example.com", "svc.contact")

    await registering.verify_email(auth, msgs.VerifyEmail(token=link["token"]))
    now = await contact_handlers.profile(auth, msgs.ProfileQuery(account_id=session.account_id))
    assert (now.email, now.pending_email) == ("svc.contact.new@example.com", None)
