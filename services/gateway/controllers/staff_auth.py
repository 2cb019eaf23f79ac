"""Staff login and logout: a separate cookie and separate sessions from customers'."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.status_codes import HTTP_200_OK, HTTP_204_NO_CONTENT

from contracts import auth
from runtime.rpc_client import RpcProblem
from runtime.settings import Settings
from services.gateway.controllers.auth import login_refusal
from services.gateway.rpc import Rpc
from services.gateway.schemas.staff import StaffLoginRequest, StaffLoginResponse, StaffMe
from services.gateway.sessions import (
    STAFF_SESSION_COOKIE,
    clear_staff_session_cookie,
    client_address,
    current_staff,
    staff_session_cookie,
    usable_token,
)


async def staff_session_response(
    request: Request[Any, Any, Any], rpc: Rpc, settings: Settings, opened: auth.StaffSessionOpened
) -> Response[Any]:
    if old := usable_token(request.cookies.get(STAFF_SESSION_COOKIE)):
        await rpc.call(auth.STAFF_LOG_OUT, auth.SessionRef(token=old))
    return Response(
        StaffLoginResponse(
            login=opened.login,
            role=opened.role,
            expires_at=opened.expires_at,
            recovery_codes=opened.recovery_codes or None,
        ),
        cookies=[staff_session_cookie(settings, opened.token)],
    )


class StaffAuthController(Controller):
    path = "/staff/auth"
    tags = ["staff"]

    @post(
        "/login",
        status_code=HTTP_200_OK,
        summary="Staff login; sets the staff session cookie",
        description="Like the customer login: a captcha after a wrong password, throttling,"
        " a new session id. The cookie `ibok_staff_session` opens staff routes only. A right"
        " password never opens a session by itself: the answer is 401 `mfa_required` (send"
        " the `challenge` and a code to `POST /staff/auth/mfa`) or, before the first"
        " enrolment, `mfa_enrolment_required` with the new key (`secret`, `otpauth_uri`,"
        " `qr_svg`), whose first code both enrols it and opens the session.",
    )
    async def login(
        self, request: Request[Any, Any, Any], rpc: Rpc, data: StaffLoginRequest, settings: Settings
    ) -> Response[Any]:
        try:
            opened = await rpc.call(
                auth.STAFF_LOG_IN,
                auth.StaffLogIn(
                    login=data.login,
                    password=data.password,
                    captcha_id=data.captcha_id,
                    captcha_answer=data.captcha_answer,
                    client_address=client_address(request),
                    user_agent=request.headers.get("user-agent", "")[:300],
                ),
            )
        except RpcProblem as exc:
            return login_refusal(request, exc)
        return await staff_session_response(request, rpc, settings, opened)

    @post("/logout", status_code=HTTP_204_NO_CONTENT, summary="Staff logout")
    async def logout(self, request: Request[Any, Any, Any], rpc: Rpc) -> Response[None]:
        if token := usable_token(request.cookies.get(STAFF_SESSION_COOKIE)):
            await rpc.call(auth.STAFF_LOG_OUT, auth.SessionRef(token=token))
        response: Response[None] = Response(None, status_code=HTTP_204_NO_CONTENT)
        clear_staff_session_cookie(response)
        return response

    @get(
        "/me",
        summary="The logged-in staff member",
        dependencies={"staff": Provide(current_staff)},
    )
    async def me(self, staff: auth.StaffInfo) -> StaffMe:
        return StaffMe(**staff.model_dump())
