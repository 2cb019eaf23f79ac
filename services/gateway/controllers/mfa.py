"""The second factor: the login's second step (customers and staff), a customer's own TOTP
enrolment, recovery codes and removal, and an admin's reset of a staff member's factor."""

from __future__ import annotations

from typing import Any

from litestar import Controller, Request, Response, get, post
from litestar.di import Provide
from litestar.status_codes import HTTP_200_OK, HTTP_201_CREATED, HTTP_204_NO_CONTENT

from contracts import auth
from contracts.rpc import Operation
from runtime.rpc_client import RpcProblem
from runtime.settings import Settings
from services.gateway.controllers.auth import login_refusal, session_response
from services.gateway.controllers.staff_auth import staff_session_response
from services.gateway.rpc import Rpc
from services.gateway.schemas.mfa import (
    MfaCodeRequest,
    MfaCompleteRequest,
    MfaRemoveRequest,
    MfaStatusOut,
    RecoveryCodesOut,
    TotpEnrolmentOut,
)
from services.gateway.sessions import admin_only, client_address, current_staff


def complete_command(request: Request[Any, Any, Any], data: MfaCompleteRequest) -> auth.CompleteMfa:
    return auth.CompleteMfa(
        challenge=data.challenge,
        code=data.code,
        client_address=client_address(request),
        user_agent=request.headers.get("user-agent", "")[:300],
    )


async def recovery_codes(
    request: Request[Any, Any, Any],
    rpc: Rpc,
    operation: Operation[auth.ConfirmTotp, auth.RecoveryCodes],
    data: MfaCodeRequest,
    session: auth.SessionInfo,
) -> Response[RecoveryCodesOut]:
    """A code-confirmed operation answering recovery codes: shown once, never cached."""
    codes = await rpc.call(
        operation,
        auth.ConfirmTotp(
            account_id=session.account_id, code=data.code, client_address=client_address(request)
        ),
    )
    return Response(RecoveryCodesOut(codes=codes.codes), headers={"Cache-Control": "no-store"})


class MfaLoginController(Controller):
    path = "/auth/mfa"
    tags = ["auth"]

    @post(
        "",
        status_code=HTTP_200_OK,
        summary="The login's second step: the challenge and a code; sets the session cookie",
        description="`challenge` comes from the 401 `mfa_required` answer of `POST /auth/login`."
        " `code` is the authenticator app's current 6-digit code (each accepted once) or an"
        " unused recovery code. A wrong code answers `mfa_code_invalid` with `attempts_left`;"
        " after five the challenge ends (`mfa_challenge_invalid`: log in again). Wrong codes"
        " count in the login throttle like wrong passwords.",
    )
    async def complete(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        data: MfaCompleteRequest,
        settings: Settings,
    ) -> Response[Any]:
        try:
            opened = await rpc.call(auth.COMPLETE_MFA, complete_command(request, data))
        except RpcProblem as exc:
            return login_refusal(request, exc)
        return await session_response(request, rpc, settings, opened, opened.login or "")


class StaffMfaLoginController(Controller):
    path = "/staff/auth/mfa"
    tags = ["staff"]

    @post(
        "",
        status_code=HTTP_200_OK,
        summary="The staff login's second step (or first enrolment); sets the staff cookie",
        description="As `POST /auth/mfa`, with the challenge of `POST /staff/auth/login`. After"
        " `mfa_enrolment_required` the code is the new app's first code; the answer then"
        " carries `recovery_codes`, shown this once.",
    )
    async def complete(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        data: MfaCompleteRequest,
        settings: Settings,
    ) -> Response[Any]:
        try:
            opened = await rpc.call(auth.STAFF_COMPLETE_MFA, complete_command(request, data))
        except RpcProblem as exc:
            return login_refusal(request, exc)
        return await staff_session_response(request, rpc, settings, opened)


class MeMfaController(Controller):
    """A customer's own second factor: optional, turned on and off by the customer."""

    path = "/me/mfa"
    tags = ["account"]

    @get("", summary="Whether the second factor is on, and how many recovery codes are left")
    async def status(self, rpc: Rpc, session: auth.SessionInfo) -> MfaStatusOut:
        status = await rpc.call(auth.MFA_STATUS, auth.MfaStatusQuery(account_id=session.account_id))
        return MfaStatusOut(**status.model_dump())

    @post(
        "/totp",
        status_code=HTTP_201_CREATED,
        summary="Start adding an authenticator app: a new key (QR code); confirm with a code",
        description="The key counts only after `POST /me/mfa/totp/confirm` with the app's"
        " current code; starting again replaces an unconfirmed key.",
    )
    async def begin(
        self, request: Request[Any, Any, Any], rpc: Rpc, session: auth.SessionInfo
    ) -> Response[TotpEnrolmentOut]:
        enrolment = await rpc.call(
            auth.BEGIN_TOTP,
            auth.BeginTotp(account_id=session.account_id, client_address=client_address(request)),
        )
        return Response(
            TotpEnrolmentOut(**enrolment.model_dump()),
            status_code=HTTP_201_CREATED,
            headers={"Cache-Control": "no-store"},
        )

    @post(
        "/totp/confirm",
        status_code=HTTP_200_OK,
        summary="Turn the second factor on with the app's first code; answers the recovery codes",
    )
    async def confirm(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        data: MfaCodeRequest,
        session: auth.SessionInfo,
    ) -> Response[RecoveryCodesOut]:
        return await recovery_codes(request, rpc, auth.CONFIRM_TOTP, data, session)

    @post(
        "/recovery-codes",
        status_code=HTTP_200_OK,
        summary="New recovery codes with a current app code; the old ones stop working",
    )
    async def renew(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        data: MfaCodeRequest,
        session: auth.SessionInfo,
    ) -> Response[RecoveryCodesOut]:
        return await recovery_codes(request, rpc, auth.NEW_RECOVERY_CODES, data, session)

    @post(
        "/totp/remove",
        status_code=HTTP_204_NO_CONTENT,
        summary="Turn the second factor off: the password and a current (or recovery) code",
    )
    async def remove(
        self,
        request: Request[Any, Any, Any],
        rpc: Rpc,
        data: MfaRemoveRequest,
        session: auth.SessionInfo,
    ) -> None:
        await rpc.call(
            auth.REMOVE_TOTP,
            auth.RemoveTotp(
                account_id=session.account_id,
                password=data.password,
                code=data.code,
                client_address=client_address(request),
            ),
        )


class StaffMfaResetController(Controller):
    """Admins only: a staff member lost the authenticator."""

    path = "/staff/staff-users/{login:str}/mfa-reset"
    tags = ["staff"]
    guards = [admin_only]
    dependencies = {"staff": Provide(current_staff)}

    @post(
        "",
        status_code=HTTP_204_NO_CONTENT,
        summary="Reset a staff member's second factor (admin; audited)",
        description="The factor and the member's sessions end; the next login enrols a new"
        " authenticator.",
    )
    async def reset(
        self, request: Request[Any, Any, Any], rpc: Rpc, login: str, staff: auth.StaffInfo
    ) -> None:
        await rpc.call(
            auth.RESET_STAFF_MFA,
            auth.ResetStaffMfa(
                actor_id=staff.staff_id, login=login, client_address=client_address(request)
            ),
        )
