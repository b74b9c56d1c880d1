"""/v1/call_sessions: verify-the-caller for platforms whose agents work in their own tools."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from contactguard.entrypoints.api.deps import (
    ContainerDep,
    ReadKey,
    WriteKey,
    actor_of,
    idempotent,
    json_response,
    run,
)
from contactguard.entrypoints.api.schemas import problem_responses
from contactguard.services import call_sessions
from contactguard.services.call_sessions import CallView

router = APIRouter(prefix="/v1/call_sessions", tags=["verify the caller"])

SessionId = Annotated[str, Path(max_length=64, description="The call session's id",
                                examples=["call_3f9c0b6a1d2e4f5a6b7c"])]


class CallSessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str = Field(max_length=128, description="The account's external_id",
                         examples=["seller-1042"])
    agent_name: str = Field(max_length=200, examples=["Mei Lin"], description=(
        "The agent's name as they introduce themselves; the seller is shown the first name "
        "(at most 60 characters, no control characters)."))


class CallSessionOut(BaseModel):
    id: str = Field(examples=["call_3f9c0b6a1d2e4f5a6b7c"])
    code: str = Field(examples=["4821"], description=(
        "Four digits the agent says on the phone; the seller sees the same code in Seller "
        "Center. Not a secret credential: it only proves the caller can see this session."))
    expires_at: datetime = Field(description="10 minutes after the start.")
    status: Literal["active", "confirmed", "reported", "expired", "replaced"] = Field(
        description="active: waiting for the seller; confirmed: the seller says the caller "
        "said the code; reported: the seller reported the call; expired: no answer within "
        "10 minutes; replaced: a newer session for the account was started.")
    account: str
    agent_name: str
    created_at: datetime
    answered_at: datetime | None
    report_reason: Literal["wrong_code", "asked_for_secrets"] | None = Field(
        description="For a reported call: the caller could not say the code, or asked for a "
        "password or a code.")

    @classmethod
    def of(cls, view: CallView) -> CallSessionOut:
        s = view.session
        return cls(id=s.id, code=s.code, expires_at=s.expires_at, status=view.status.value,
                   account=s.account, agent_name=s.agent_name, created_at=s.created_at,
                   answered_at=s.answered_at,
                   report_reason=s.report_reason.value if s.report_reason else None)


@router.post("", response_model=CallSessionOut, status_code=201,
             responses=problem_responses(401, 404, 409, 422),
             summary="Start a verify-the-caller session before phoning a seller")
async def start_call_session(body: CallSessionIn, request: Request, container: ContainerDep,
                             key: WriteKey) -> Response:
    """Within seconds the seller's Seller Center shows "<first name> from Account Health is
    calling you; ask them for this code: 4821". The agent says the ``code``; the seller
    confirms or reports the call (read it back with ``GET /v1/call_sessions/{id}``).

    A session is open for 10 minutes; starting one replaces the account's open session.
    Audited with this API key as the actor. Honours ``Idempotency-Key``.
    """
    async def handle() -> Response:
        view = await run(container, call_sessions.start_call_session, container.deps,
                         body.account, body.agent_name, actor=actor_of(key))
        return json_response(CallSessionOut.of(view), 201, headers={
            "Location": f"/v1/call_sessions/{view.id}", "Cache-Control": "no-store"})

    return await idempotent(request, key, handle)


@router.get("/{session_id}", response_model=CallSessionOut,
            responses=problem_responses(401, 404),
            summary="Read a call session and the seller's answer")
async def get_call_session(session_id: SessionId, container: ContainerDep,
                           key: ReadKey) -> Response:
    """Poll this while on the phone: ``status`` turns ``confirmed`` or ``reported`` as soon as
    the seller answers, and ``expired`` 10 minutes after the start."""
    view = await run(container, call_sessions.get_call_session, container.deps, session_id)
    return json_response(CallSessionOut.of(view), headers={"Cache-Control": "no-store"})
