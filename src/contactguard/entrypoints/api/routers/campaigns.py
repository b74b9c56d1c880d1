"""/v1/campaigns: announce a requirement on every channel at once; and the message center."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request
from fastapi.responses import Response

from contactguard.domain.campaigns import CampaignStatus
from contactguard.entrypoints.api.campaign_schemas import (
    CampaignIn,
    CampaignList,
    CampaignOut,
    FunnelOut,
    MessageList,
    MessageOut,
    PreviewOut,
)
from contactguard.entrypoints.api.deps import (
    ApiKeyDep,
    ContainerDep,
    ReadKey,
    WriteKey,
    actor_of,
    idempotent,
    json_response,
    run,
)
from contactguard.entrypoints.api.schemas import problem_responses
from contactguard.services import campaigns, message_center

router = APIRouter(tags=["campaigns"])

CampaignId = Annotated[int, Path(ge=1, le=2**62)]
_errors = problem_responses(401, 404, 409, 422)


@router.post("/v1/campaigns", response_model=CampaignOut, status_code=201, responses=_errors,
             summary="Create a draft campaign")
async def create(body: CampaignIn, request: Request, container: ContainerDep,
                 key: WriteKey) -> Response:
    """Checks every rule: in_app among the channels, at least the policy's minimum notice in
    working days of every targeted country, known accounts. Preview it, then launch it."""

    async def handle() -> Response:
        view = await run(container, campaigns.create_campaign, container.deps, body.document(),
                         actor=actor_of(key))
        return json_response(CampaignOut.of(view), 201,
                             headers={"Location": f"/v1/campaigns/{view.id}"})

    return await idempotent(request, key, handle)


@router.get("/v1/campaigns", response_model=CampaignList, responses=_errors,
            summary="List campaigns, newest first")
async def list_all(container: ContainerDep, key: ReadKey,
                   limit: Annotated[int, Query(ge=1, le=200)] = 50,
                   before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
                   status: CampaignStatus | None = None) -> Response:
    found = await run(container, campaigns.list_campaigns, container.deps, limit=limit,
                      before=before, status=status)
    return json_response(CampaignList(data=[CampaignOut.of(c) for c in found.items],
                                      next_before=found.next_before))


@router.get("/v1/campaigns/{campaign_id}", response_model=CampaignOut, responses=_errors,
            summary="A campaign with its progress")
async def get(campaign_id: CampaignId, container: ContainerDep, key: ReadKey) -> Response:
    view = await run(container, campaigns.get_campaign, container.deps, campaign_id)
    return json_response(CampaignOut.of(view))


@router.get("/v1/campaigns/{campaign_id}/preview", response_model=PreviewOut, responses=_errors,
            summary="Who is told when, each country's deadline, sample messages")
async def preview(campaign_id: CampaignId, container: ContainerDep, key: ReadKey) -> Response:
    found = await run(container, campaigns.preview_campaign, container.deps, campaign_id)
    return json_response(PreviewOut.of(found))


async def _act(container: ContainerDep, key: ApiKeyDep, campaign_id: int,
               action: campaigns.Action) -> Response:
    view = await run(container, action, container.deps, campaign_id, actor=actor_of(key))
    container.wake_worker()
    return json_response(CampaignOut.of(view))


@router.post("/v1/campaigns/{campaign_id}/launch", response_model=CampaignOut, responses=_errors,
             summary="Launch a draft")
async def launch(campaign_id: CampaignId, container: ContainerDep, key: WriteKey) -> Response:
    """Workers plan the audience and send each account's notice (in-app, email, SMS together)
    at its first allowed local time; the minimum notice is checked again."""
    return await _act(container, key, campaign_id, campaigns.launch_campaign)


@router.post("/v1/campaigns/{campaign_id}/pause", response_model=CampaignOut, responses=_errors,
             summary="Pause: nothing more is sent until resumed")
async def pause(campaign_id: CampaignId, container: ContainerDep, key: WriteKey) -> Response:
    return await _act(container, key, campaign_id, campaigns.pause_campaign)


@router.post("/v1/campaigns/{campaign_id}/resume", response_model=CampaignOut, responses=_errors,
             summary="Resume a paused campaign")
async def resume(campaign_id: CampaignId, container: ContainerDep, key: WriteKey) -> Response:
    return await _act(container, key, campaign_id, campaigns.resume_campaign)


@router.post("/v1/campaigns/{campaign_id}/cancel", response_model=CampaignOut, responses=_errors,
             summary="Cancel: unsent messages are dropped, deadlines lifted")
async def cancel(campaign_id: CampaignId, container: ContainerDep, key: WriteKey) -> Response:
    return await _act(container, key, campaign_id, campaigns.cancel_campaign)


@router.get("/v1/campaigns/{campaign_id}/funnel", response_model=FunnelOut, responses=_errors,
            summary="Targeted, notified, seen, started, verified")
async def funnel(campaign_id: CampaignId, container: ContainerDep, key: ReadKey) -> Response:
    found = await run(container, campaigns.campaign_funnel, container.deps, campaign_id)
    return json_response(FunnelOut.of(found))


@router.get("/v1/accounts/{external_id}/messages", response_model=MessageList,
            responses=problem_responses(401, 404, 422), tags=["accounts"],
            summary="The account's message center, newest first")
async def messages(external_id: Annotated[str, Path(max_length=128)], container: ContainerDep,
                   key: ReadKey, limit: Annotated[int, Query(ge=1, le=200)] = 50,
                   cursor: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    """Every notice with its `reference`, `campaign`, `created_at` and `read_at` (when the
    seller first saw it in Seller Center); `next_cursor` pages on."""
    page = await run(container, message_center.list_messages, container.deps, external_id,
                     limit=limit, cursor=cursor)
    return json_response(MessageList(data=[MessageOut.of(n) for n in page.items],
                                     next_cursor=page.next_cursor))
