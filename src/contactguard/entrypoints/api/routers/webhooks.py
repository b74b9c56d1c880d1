"""/v1/webhooks: endpoints, their deliveries, and replay."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from contactguard.entrypoints.api.deps import AdminKey, ContainerDep, ReadKey, actor_of, json_response, run
from contactguard.entrypoints.api.policy_schemas import (
    DeliveryList,
    DeliveryOut,
    WebhookIn,
    WebhookList,
    WebhookOut,
    WebhookPatch,
)
from contactguard.entrypoints.api.schemas import problem_responses
from contactguard.services import webhooks

router = APIRouter(prefix="/v1/webhooks", tags=["webhooks"])

EndpointId = Annotated[int, Path(ge=1, le=2**62)]
_errors = problem_responses(401, 404, 409, 422)


@router.post("", response_model=WebhookOut, status_code=201, responses=_errors,
             summary="Register an endpoint")
async def create(body: WebhookIn, container: ContainerDep, key: AdminKey) -> Response:
    """The answer carries the `whsec_` signing secret, shown this once. Deliveries are signed
    per Standard Webhooks (`webhook-id`, `webhook-timestamp`, `webhook-signature`)."""
    created = await run(container, webhooks.create_endpoint, container.deps, url=body.url,
                        events=body.events, description=body.description, actor=actor_of(key))
    return json_response(WebhookOut.of(created.endpoint, created.secret), 201,
                         headers={"Location": f"/v1/webhooks/{created.endpoint.id}"})


@router.get("", response_model=WebhookList, responses=_errors, summary="List endpoints")
async def list_all(container: ContainerDep, key: ReadKey) -> Response:
    endpoints = await run(container, webhooks.list_endpoints, container.deps)
    return json_response(WebhookList(data=[WebhookOut.of(e) for e in endpoints]))


@router.get("/{endpoint_id}", response_model=WebhookOut, responses=_errors,
            summary="Get an endpoint")
async def get(endpoint_id: EndpointId, container: ContainerDep, key: ReadKey) -> Response:
    endpoint = await run(container, webhooks.get_endpoint, container.deps, endpoint_id)
    return json_response(WebhookOut.of(endpoint))


@router.patch("/{endpoint_id}", response_model=WebhookOut, responses=_errors,
              summary="Change or re-enable an endpoint")
async def patch(endpoint_id: EndpointId, body: WebhookPatch, container: ContainerDep,
                key: AdminKey) -> Response:
    endpoint = await run(container, webhooks.update_endpoint, container.deps, endpoint_id,
                         url=body.url, events=body.events, description=body.description,
                         enabled=body.enabled, actor=actor_of(key))
    return json_response(WebhookOut.of(endpoint))


@router.delete("/{endpoint_id}", status_code=204, responses=_errors, summary="Delete an endpoint")
async def delete(endpoint_id: EndpointId, container: ContainerDep, key: AdminKey) -> Response:
    await run(container, webhooks.delete_endpoint, container.deps, endpoint_id,
              actor=actor_of(key))
    return Response(status_code=204)


@router.get("/{endpoint_id}/deliveries", response_model=DeliveryList, responses=_errors,
            summary="An endpoint's deliveries, newest first")
async def deliveries(endpoint_id: EndpointId, container: ContainerDep, key: ReadKey,
                     limit: Annotated[int, Query(ge=1, le=500)] = 50,
                     before: Annotated[int | None, Query(ge=1, le=2**62)] = None) -> Response:
    items = await run(container, webhooks.list_deliveries, container.deps, endpoint_id,
                      limit=limit, before_id=before)
    return json_response(DeliveryList(data=[DeliveryOut.of(d) for d in items]))


@router.post("/deliveries/{delivery_id}/replay", response_model=DeliveryOut, responses=_errors,
             summary="Send a delivery again")
async def replay(delivery_id: EndpointId, container: ContainerDep, key: AdminKey) -> Response:
    """Same event id and body, a fresh signature and retry schedule."""
    delivery = await run(container, webhooks.replay_delivery, container.deps, delivery_id,
                         actor=actor_of(key))
    container.wake_worker()
    return json_response(DeliveryOut.of(delivery))
