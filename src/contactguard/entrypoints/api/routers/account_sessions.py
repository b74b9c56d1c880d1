"""/v1/account_sessions: single-use links that open the Seller Center for one account."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from contactguard.entrypoints.api.deps import ContainerDep, SessionsKey, actor_of, json_response, run
from contactguard.entrypoints.api.schemas import Problem
from contactguard.services.seller_sessions import create_session_link
from contactguard.services.web_sessions import revoke_account_sessions

router = APIRouter(prefix="/v1/account_sessions", tags=["seller center"])


class AccountSessionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")
    account: str = Field(max_length=128, description="The account's external_id",
                         examples=["seller-1042"])


class AccountSessionOut(BaseModel):
    url: str = Field(description="Open once, within 5 minutes, to get a seller session")
    expires_at: datetime


@router.post("", response_model=AccountSessionOut, status_code=201,
             responses={401: {"model": Problem}, 404: {"model": Problem},
                        422: {"model": Problem}},
             summary="Create a single-use account-session link to the Seller Center")
async def create_account_session(body: AccountSessionIn, container: ContainerDep,
                                 key: SessionsKey) -> Response:
    """The platform's backend calls this, then sends the seller's browser to ``url``.

    The link works once and for 5 minutes; opening it sets an HTTP-only session cookie for
    that account and redirects to the dashboard.
    """
    link = await run(container, create_session_link, container.deps, body.account,
                     base_url=container.settings.public_url)
    return json_response(AccountSessionOut(url=link.url, expires_at=link.expires_at), 201,
                         headers={"Cache-Control": "no-store"})


class RevokedSessionsOut(BaseModel):
    revoked: int = Field(description="How many open Seller Center sessions were ended")


@router.delete("/{external_id}", response_model=RevokedSessionsOut,
               responses={401: {"model": Problem}, 404: {"model": Problem}},
               summary="Sign a seller out of the Seller Center everywhere")
async def revoke_account_session(external_id: str, container: ContainerDep,
                                 key: SessionsKey) -> Response:
    """End every open Seller Center session of the account at once (e.g. after the platform
    noticed a takeover or reset the seller's password). Audited; unused sign-in links are
    not affected (they expire within 5 minutes)."""
    count = await run(container, revoke_account_sessions, container.deps, external_id,
                      actor=actor_of(key))
    return json_response(RevokedSessionsOut(revoked=count))
