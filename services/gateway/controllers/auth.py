"""Customer registration, email verification, captcha, login, logout and passwords."""

from __future__ import annotations

from typing import Any, cast

from litestar import Controller, Request, Response, get, post
from litestar.exceptions import TooManyRequestsException
from litestar.params import Parameter
from litestar.status_codes import (
    HTTP_200_OK,
    HTTP_201_CREATED,
    HTTP_202_ACCEPTED,
    HTTP_204_NO_CONTENT,
)

from contracts import auth
from runtime.rpc_client import RpcProblem
from runtime.settings import Settings
from services.gateway.limits import registration_retry_after
from services.gateway.problems import from_rpc_problem
from services.gateway.rpc import Rpc
from services.gateway.schemas.auth import (
    CaptchaResponse,
    ChangePasswordRequest,
    LoginCodeRequest,
    LoginRequest,
    LoginResponse,
    PasswordResetConfirm,
    PasswordResetRequest,
    RegisterRequest,
    RegisterResponse,
    VerifyEmailRequest,
)
from services.gateway.sessions import (
    SESSION_COOKIE,
    clear_session_cookie,
    client_address,
    session_cookie,
    usable_token,
)

# Refusals after which the next login attempt must carry a solved captcha (R4).
CAPTCHA_CODES = frozenset({"invalid_credentials", "captcha_required", "captcha_invalid"})
# A right password whose second factor is still due: no session yet (services/auth/mfa).
MFA_CODES = frozenset({"mfa_required", "mfa_enrolment_required"})


def login_refusal(request: Request[Any, Any, Any], exc: RpcProblem) -> Response[Any]:
    """A login problem, plus ``captcha_required`` in the body (R4) and Retry-After when throttled."""
    response = from_rpc_problem(request, exc)
    body = response.content
    assert isinstance(body, dict)
    body["captcha_required"] = exc.problem.code in CAPTCHA_CODES
    if exc.problem.code in MFA_CODES:
        # The second step's challenge (and, for a staff enrolment, the new key) at the top.
        body.update(body.pop("fields", {}))
    if exc.problem.status == 429 and (wait := exc.problem.fields.get("retry_after")):
        response.headers["Retry-After"] = wait
    return response


async def session_response(
    request: Request[Any, Any, Any],
    rpc: Rpc,
    settings: Settings,
    opened: auth.SessionOpened,
    login: str,
) -> Response[Any]:
    """R13: a new session id at every login; an earlier cookie of this browser ends too."""
    if old := usable_token(request.cookies.get(SESSION_COOKIE)):
        request.app.state.session_cache.forget_token(old)
        await rpc.call(auth.LOG_OUT, auth.SessionRef(token=old))
    return Response(
        LoginResponse(login=login, expires_at=opened.expires_at),
        cookies=[session_cookie(settings, opened.token)],
    )


def captcha_response(challenge: auth.CaptchaChallenge) -> CaptchaResponse:
    return CaptchaResponse(
        id=challenge.id,
        image=f"data:image/png;base64,{challenge.image_png_base64}",
        audio=f"data:audio/wav;base64,{challenge.audio_wav_base64}"
        if challenge.audio_wav_base64
        else None,
        expires_at=challenge.expires_at,
    )


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    @post(
        "/register", status_code=HTTP_201_CREATED, summary="Register an account (R1, R2, R3, R17)"
    )
    async def register(
        self, request: Request[Any, Any, Any], rpc: Rpc, data: RegisterRequest
    ) -> RegisterResponse:
        if wait := registration_retry_after(request, data.customer_number):
            raise TooManyRequestsException(headers={"Retry-After": str(int(wait))})
        reply = await rpc.call(
            auth.REGISTER,
            auth.RegisterAccount(**data.model_dump(), client_address=client_address(request)),
        )
        return RegisterResponse(**reply.model_dump())

    @post(
        "/verify-email",
        status_code=HTTP_204_NO_CONTENT,
        summary="Confirm an email address (at registration, R17, or after a change, R16)",
    )
    async def verify_email(
        self, request: Request[Any, Any, Any], rpc: Rpc, data: VerifyEmailRequest
    ) -> None:
        await rpc.call(
            auth.VERIFY_EMAIL,
            auth.VerifyEmail(token=data.token, client_address=client_address(request)),
        )

    @get(
        "/captcha",
        summary="A new single-use image captcha (R4)",
        description="Needed for the next login after a wrong password. Expires after a few"
        " minutes; the answer is not case-sensitive. `?audio=true` adds a spoken version"
        " (`&language=en` in English; Polish by default), made afresh for every challenge.",
        cache_control=None,
    )
    async def captcha(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        audio: bool = Parameter(default=False),
        language: str = Parameter(default="pl", pattern=r"^(pl|en)$"),
    ) -> Response[CaptchaResponse]:
        challenge = await rpc.call(
            auth.NEW_CAPTCHA,
            auth.CaptchaRequest(
                audio=audio,
                language="en" if language == "en" else "pl",
                client_address=client_address(request),
            ),
        )
        return Response(captcha_response(challenge), headers={"Cache-Control": "no-store"})

    @post(
        "/login",
        status_code=HTTP_200_OK,
        summary="Log in; sets the session cookie (R4, R5, R13)",
        description="After a wrong password the answer says `captcha_required: true`: the next"
        " attempt for that login must carry `captcha_id` and `captcha_answer` from"
        " `GET /auth/captcha`. Too many failures answer 429 with Retry-After. A blocked account"
        " is told so (`account_blocked`) only after a correct password. With a second factor"
        " the answer is 401 `mfa_required` with a `challenge`: send it with a code to"
        " `POST /auth/mfa`.",
    )
    async def login(
        self, request: Request[Any, Any, Any], rpc: Rpc, data: LoginRequest, settings: Settings
    ) -> Response[Any]:
        try:
            opened = await rpc.call(
                auth.LOG_IN,
                auth.LogIn(
                    login=data.login,
                    password=data.password,
                    captcha_id=data.captcha_id,
                    captcha_answer=data.captcha_answer,
                    email_code=data.email_code,
                    client_address=client_address(request),
                    user_agent=request.headers.get("user-agent", "")[:300],
                ),
            )
        except RpcProblem as exc:
            return login_refusal(request, exc)
        return await session_response(request, rpc, settings, opened, data.login)

    @post(
        "/login-code",
        status_code=HTTP_202_ACCEPTED,
        summary="Email a one-time code that stands in for the captcha (R4)",
        description="For a customer who can neither see nor hear the captcha: a code to the"
        " account's verified address, single use, valid 10 minutes, at most 3 an hour; send it"
        " as `email_code` with the login. The same answer whether or not the login exists.",
    )
    async def login_code(
        self, request: Request[Any, Any, Any], rpc: Rpc, data: LoginCodeRequest
    ) -> None:
        await rpc.call(
            auth.REQUEST_LOGIN_CODE,
            auth.RequestLoginCode(login=data.login, client_address=client_address(request)),
        )

    @post(
        "/logout",
        status_code=HTTP_204_NO_CONTENT,
        summary="Log out: ends the session on the server",
    )
    async def logout(
        self, request: Request[Any, Any, Any], rpc: Rpc, settings: Settings
    ) -> Response[None]:
        if token := usable_token(request.cookies.get(SESSION_COOKIE)):
            request.app.state.session_cache.forget_token(token)
            await rpc.call(auth.LOG_OUT, auth.SessionRef(token=token))
        response: Response[None] = Response(None, status_code=HTTP_204_NO_CONTENT)
        clear_session_cookie(response, settings)
        return response

    @post(
        "/password",
        status_code=HTTP_204_NO_CONTENT,
        summary="Change the password (R3); every other session ends",
    )
    async def change_password(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        data: ChangePasswordRequest,
        session: auth.SessionInfo,
    ) -> Response[None]:
        token = usable_token(request.cookies.get(SESSION_COOKIE))
        assert token is not None  # the session dependency resolved it
        del session
        try:
            await rpc.call(
                auth.CHANGE_PASSWORD,
                auth.ChangePassword(
                    token=token,
                    current_password=data.current_password,
                    new_password=data.new_password,
                    client_address=client_address(request),
                ),
            )
        except RpcProblem as exc:
            if exc.problem.status != 429:
                raise
            # Wrong current passwords count against the login like wrong logins do (R4).
            return cast("Response[None]", login_refusal(request, exc))
        return Response(None, status_code=HTTP_204_NO_CONTENT)

    @post(
        "/password-reset",
        status_code=HTTP_202_ACCEPTED,
        summary="Send a password reset link (R3)",
        description="The same answer whether or not the login exists. The link is single-use"
        " and valid for 30 minutes.",
    )
    async def request_password_reset(
        self, request: Request[Any, Any, Any], rpc: Rpc, data: PasswordResetRequest
    ) -> None:
        await rpc.call(
            auth.REQUEST_PASSWORD_RESET,
            auth.RequestPasswordReset(login=data.login, client_address=client_address(request)),
        )

    @post(
        "/password-reset/confirm",
        status_code=HTTP_204_NO_CONTENT,
        summary="Set a new password with the emailed link (R3); every session ends",
    )
    async def reset_password(
        self, request: Request[Any, Any, Any], rpc: Rpc, data: PasswordResetConfirm
    ) -> None:
        await rpc.call(
            auth.RESET_PASSWORD,
            auth.ResetPassword(
                token=data.token,
                new_password=data.new_password,
                client_address=client_address(request),
            ),
        )
