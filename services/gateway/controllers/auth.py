"""Customer registration, email verification, login and logout."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, post
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from contracts import auth
from runtime.settings import Settings
from services.gateway.rpc import rpc_of
from services.gateway.schemas.auth import (
    LoginRequest,
    LoginResponse,
    RegisterRequest,
    RegisterResponse,
    VerifyEmailRequest,
)
from services.gateway.sessions import SESSION_COOKIE, clear_session_cookie, session_cookie


class AuthController(Controller):
    path = "/auth"
    tags = ["auth"]

    @post(
        "/register", status_code=HTTP_201_CREATED, summary="Register an account (R1, R2, R3, R17)"
    )
    async def register(
        self, request: Request[Any, Any, Any], data: RegisterRequest
    ) -> RegisterResponse:
        reply = await rpc_of(request.app.state).call(
            auth.REGISTER, auth.RegisterAccount(**data.model_dump())
        )
        return RegisterResponse(**reply.model_dump())

    @post("/verify-email", status_code=HTTP_204_NO_CONTENT, summary="Confirm the email address")
    async def verify_email(self, request: Request[Any, Any, Any], data: VerifyEmailRequest) -> None:
        await rpc_of(request.app.state).call(auth.VERIFY_EMAIL, auth.VerifyEmail(token=data.token))

    @post("/login", status_code=HTTP_200_OK, summary="Log in; sets the session cookie (R4, R13)")
    async def login(
        self, request: Request[Any, Any, Any], data: LoginRequest, settings: Settings
    ) -> Response[LoginResponse]:
        opened = await rpc_of(request.app.state).call(
            auth.LOG_IN,
            auth.LogIn(
                login=data.login,
                password=data.password,
                client_address=(request.client.host if request.client else "")[:64],
                user_agent=request.headers.get("user-agent", "")[:300],
            ),
        )
        # R13: a new session id at every login; an earlier cookie of this browser ends too.
        if old := request.cookies.get(SESSION_COOKIE):
            if 20 <= len(old) <= 100:
                await rpc_of(request.app.state).call(auth.LOG_OUT, auth.SessionRef(token=old))
        return Response(
            LoginResponse(login=data.login, expires_at=opened.expires_at),
            cookies=[session_cookie(settings, opened.token)],
        )

    @post(
        "/logout",
        status_code=HTTP_204_NO_CONTENT,
        summary="Log out: ends the session on the server",
    )
    async def logout(self, request: Request[Any, Any, Any], settings: Settings) -> Response[None]:
        token = request.cookies.get(SESSION_COOKIE)
        if token and 20 <= len(token) <= 100:
            await rpc_of(request.app.state).call(auth.LOG_OUT, auth.SessionRef(token=token))
        response: Response[None] = Response(None, status_code=HTTP_204_NO_CONTENT)
        clear_session_cookie(response, settings)
        return response
