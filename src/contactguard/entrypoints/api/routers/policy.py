"""/v1/policy, eligibility and listing accounts by compliance state, platform signals."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, Path, Query
from fastapi.responses import Response

from contactguard.domain.compliance import ComplianceState
from contactguard.domain.policy import policy_to_document
from contactguard.entrypoints.api.deps import (
    AdminKey,
    ContainerDep,
    ReadKey,
    WriteKey,
    actor_of,
    json_response,
    run,
)
from contactguard.entrypoints.api.policy_schemas import (
    ComplianceListOut,
    EligibilityOut,
    PolicyDocument,
)
from contactguard.entrypoints.api.schemas import problem_responses
from contactguard.services import compliance, policy

router = APIRouter(tags=["policy and eligibility"])

ExternalId = Annotated[str, Path(max_length=128, description="The platform's id for the account")]
_errors = problem_responses(401, 404, 422)


@router.get("/v1/policy", response_model=PolicyDocument, responses=_errors,
            summary="The policy in force")
async def get_policy(container: ContainerDep, key: ReadKey) -> Response:
    current = await run(container, policy.get_policy, container.deps)
    return json_response(PolicyDocument(**policy_to_document(current)))


@router.put("/v1/policy", response_model=PolicyDocument, responses=_errors,
            summary="Replace the policy")
async def put_policy(container: ContainerDep, key: AdminKey,
                     body: Annotated[dict[str, Any], Body(examples=[{
                         "reverify_after_days": 365, "due_soon_days": 30,
                         "min_signals": {"account_health_rating": 200}}])]) -> Response:
    """Settings left out take their defaults; each bad one is named in `errors`. Every
    account's compliance is recomputed by the worker shortly after."""
    new = await run(container, policy.set_policy, container.deps, body, actor=actor_of(key))
    return json_response(PolicyDocument(**policy_to_document(new)))


@router.get("/v1/accounts", response_model=ComplianceListOut, responses=_errors,
            tags=["accounts"], summary="List accounts by compliance state")
async def list_accounts(container: ContainerDep, key: ReadKey,
                        state: Annotated[ComplianceState, Query()],
                        limit: Annotated[int, Query(ge=1, le=1000)] = 100,
                        cursor: Annotated[str | None, Query(max_length=200)] = None) -> Response:
    """Earliest deadline first; pass `next_cursor` back as `cursor` for the next page."""
    listing = await run(container, compliance.list_by_state, container.deps, state,
                        limit=limit, cursor=cursor)
    return json_response(ComplianceListOut.of(listing))


@router.get("/v1/accounts/{external_id}/eligibility", response_model=EligibilityOut,
            responses=_errors, tags=["accounts"],
            summary="Compliance state and account health assurance eligibility")
async def get_eligibility(external_id: ExternalId, container: ContainerDep,
                          key: ReadKey) -> Response:
    view = await run(container, compliance.get_compliance, container.deps, external_id)
    return json_response(EligibilityOut.of(view))


@router.put("/v1/accounts/{external_id}/signals", response_model=EligibilityOut,
            responses=_errors, tags=["accounts"], summary="Report the platform's signals")
async def put_signals(external_id: ExternalId, container: ContainerDep, key: WriteKey,
                      body: Annotated[dict[str, float | None], Body(examples=[
                          {"account_health_rating": 260}])]) -> Response:
    """Merged into the stored signals (`null` removes one); eligibility is recomputed at once
    and `account.eligibility_changed` is sent if it flips."""
    view = await run(container, compliance.set_signals, container.deps, external_id, body,
                     actor=actor_of(key))
    return json_response(EligibilityOut.of(view))
