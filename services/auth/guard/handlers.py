"""R4 for customers and staff alike: captcha after a wrong password, throttling beyond it."""

from __future__ import annotations

import base64
import uuid
from dataclasses import dataclass
from datetime import timedelta
from typing import Literal
from uuid import UUID

from contracts import auth as msgs
from runtime.clock import utc_now
from runtime.errors import DomainError, Unauthorized
from runtime.logs import get_logger
from runtime.service import ServiceRuntime
from services.auth import domain, store
from services.auth.guard import login_codes
from services.auth.guard import store as guard_store
from services.auth.guard.captchas import CaptchaRenderer

log = get_logger(__name__)

Scope = Literal["customer", "staff"]

BAD_CREDENTIALS = "Nieprawidłowy login lub hasło."
BAD_CREDENTIALS_EN = "Wrong login or password."
# Tells the client to show a captcha with the next attempt (the gateway also says so in the body).
CAPTCHA_FIELDS = {"captcha_answer": "required"}


@dataclass
class LoginGuard:
    rt: ServiceRuntime
    renderer: CaptchaRenderer

    @property
    def window(self) -> timedelta:
        return timedelta(minutes=self.rt.settings.login_throttle_window_minutes)

    async def new_challenge(self, request: msgs.CaptchaRequest) -> msgs.CaptchaChallenge:
        challenge_id = uuid.uuid4()
        answer = domain.new_captcha_answer(
            challenge_id, self.rt.settings.captcha_test_seed.get_secret_value()
        )
        image, audio = await self.renderer.render(
            answer, audio=request.audio, language=request.language
        )
        expires_at = utc_now() + timedelta(minutes=self.rt.settings.captcha_minutes)
        await guard_store.insert_captcha(
            self.rt.pool, challenge_id, domain.captcha_digest(challenge_id, answer), expires_at
        )
        return msgs.CaptchaChallenge(
            id=challenge_id,
            image_png_base64=base64.b64encode(image).decode(),
            audio_wav_base64=base64.b64encode(audio).decode() if audio else None,
            expires_at=expires_at,
        )

    async def check_throttle(self, scope: Scope, login_key: str, client_address: str) -> None:
        """429 while this login has too many wrong passwords, or this address too many failures,
        in the sliding window; checked before the password is looked at.

        Keyed by the login as typed (known or not), so the answer reveals no account.
        """
        settings = self.rt.settings
        now = utc_now()
        row = await guard_store.failure_windows(
            self.rt.pool,
            scope,
            login_key,
            client_address,
            since=now - self.window,
            login_limit=settings.login_failures_per_login,
            address_limit=settings.login_failures_per_address,
        )
        waits = [
            domain.throttled_for(
                domain.FailureWindow(row["login_count"], row["login_nth"]),
                limit=settings.login_failures_per_login,
                window=self.window,
                now=now,
            ),
            domain.throttled_for(
                domain.FailureWindow(row["address_count"], row["address_nth"]),
                limit=settings.login_failures_per_address,
                window=self.window,
                now=now,
            ),
        ]
        if wait := max((w for w in waits if w is not None), default=None):
            log.info("login.refused", scope=scope, reason="throttled", retry_after=wait)
            raise DomainError(
                "too_many_attempts",
                "Zbyt wiele nieudanych prób logowania. Spróbuj ponownie później.",
                detail_en="Too many failed login attempts. Try again later.",
                status=429,
                fields={"retry_after": str(wait)},
            )

    async def check_captcha(
        self,
        scope: Scope,
        login_key: str,
        client_address: str,
        captcha_id: UUID | None,
        captcha_answer: str | None,
        email_code: str | None = None,
    ) -> None:
        """After a wrong password for this login, the attempt must carry a solved, unused captcha
        (or, for a customer, the unused one-time code emailed to the account: login_codes.py)."""
        if not await guard_store.captcha_required(self.rt.pool, scope, login_key):
            return
        if email_code and scope == "customer":
            if await login_codes.spend_login_code(self.rt.pool, login_key, email_code):
                return
            await guard_store.record_failure(
                self.rt.pool, scope, login_key, client_address, "captcha"
            )
            log.info("login.refused", scope=scope, reason="email_code_invalid")
            raise Unauthorized(
                "captcha_invalid",
                "Kod z e-maila jest nieprawidłowy, został już użyty albo wygasł.",
                detail_en="The emailed code is wrong, used or expired.",
                fields={"email_code": "invalid"},
            )
        if captcha_id is None or not captcha_answer:
            log.info("login.refused", scope=scope, reason="captcha_required")
            raise Unauthorized(
                "captcha_required",
                "Przepisz kod z obrazka, aby się zalogować.",
                detail_en="Type the code from the picture to log in.",
                fields=CAPTCHA_FIELDS,
            )
        stored = await guard_store.spend_captcha(self.rt.pool, captcha_id)
        if stored is None or not domain.captcha_answer_matches(stored, captcha_id, captcha_answer):
            await guard_store.record_failure(
                self.rt.pool, scope, login_key, client_address, "captcha"
            )
            log.info("login.refused", scope=scope, reason="captcha_invalid")
            raise Unauthorized(
                "captcha_invalid",
                "Kod z obrazka jest nieprawidłowy albo wygasł. Pobierz nowy obrazek.",
                detail_en="The picture code is wrong or has expired. Get a new picture.",
                fields=CAPTCHA_FIELDS,
            )

    async def refuse(
        self,
        scope: Scope,
        login_key: str,
        client_address: str,
        *,
        account_id: UUID | None = None,
        staff_id: UUID | None = None,
    ) -> Unauthorized:
        """A wrong password (or unknown login): count it, demand a captcha next time, audit it."""
        async with self.rt.unit_of_work() as uow:
            await guard_store.record_failure(uow.conn, scope, login_key, client_address, "password")
            newly = await guard_store.require_captcha(uow.conn, scope, login_key)
            actions = ["login_failed", "captcha_demanded"] if newly else ["login_failed"]
            for action in actions:
                await store.audit(
                    uow.conn,
                    action if scope == "customer" else f"staff_{action}",
                    actor_kind="anonymous",
                    account_id=account_id,
                    staff_id=staff_id,
                    client_address=client_address,
                    detail=domain.audit_detail(known_login=(account_id or staff_id) is not None),
                )
        log.info("login.refused", scope=scope, reason="invalid_credentials")
        return Unauthorized(
            "invalid_credentials",
            BAD_CREDENTIALS,
            detail_en=BAD_CREDENTIALS_EN,
            fields=CAPTCHA_FIELDS,
        )

    async def release(self, scope: Scope, login_key: str) -> None:
        """A correct password: the next attempt needs no captcha."""
        await guard_store.release_captcha(self.rt.pool, scope, login_key)
