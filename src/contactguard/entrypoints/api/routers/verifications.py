"""/v1/verifications: one-time-code challenges."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from contactguard.domain.contacts import Channel
from contactguard.entrypoints.api.deps import (
    ContainerDep,
    ReadKey,
    WriteKey,
    actor_of,
    idempotent,
    json_response,
    run,
)
from contactguard.entrypoints.api.schemas import (
    CheckIn,
    VerificationIn,
    VerificationOut,
    problem_responses,
)
from contactguard.services import verification

router = APIRouter(prefix="/v1/verifications", tags=["verifications"])

VerificationId = Annotated[str, Path(max_length=64)]
_errors = problem_responses(
    401, 403, 404, 409, 422, 429,
    s403="destination-blocked: the SMS-pumping guard refuses this number (its country, a "
         "non-geographic or premium range, or a blocked prefix); the problem names the "
         "`reason` and a safe `alternative`",
    s429="Cooldown, hourly cap or a shared rate limit (per API key, account, destination, "
         "prefix); see the Retry-After, RateLimit and RateLimit-Policy headers")


@router.post("", response_model=VerificationOut, status_code=201, responses=_errors,
             summary="Send a one-time code to a contact")
async def start(body: VerificationIn, request: Request, container: ContainerDep,
                key: WriteKey) -> Response:
    """Landlines only take ``voice``; mobiles take ``sms`` or ``voice``; emails take ``email``.

    Starting a new verification cancels the contact's earlier open one.
    """

    async def handle() -> Response:
        view = await run(container, verification.start_verification, container.deps,
                         account=body.account, contact=body.contact,
                         channel=Channel(body.channel) if body.channel else None)
        return json_response(VerificationOut.of(view), 201,
                             headers={"Location": f"/v1/verifications/{view.id}"})

    return await idempotent(request, key, handle)


@router.get("/{verification_id}", response_model=VerificationOut, responses=_errors,
            summary="Get a verification's status")
async def get(verification_id: VerificationId, container: ContainerDep,
              key: ReadKey) -> Response:
    view = await run(container, verification.get_verification, container.deps, verification_id)
    return json_response(VerificationOut.of(view))


@router.post("/{verification_id}/check", response_model=VerificationOut, responses=_errors,
             summary="Check a code")
async def check(verification_id: VerificationId, body: CheckIn, container: ContainerDep,
                key: WriteKey) -> Response:
    """``status`` is ``approved``, ``pending`` (wrong code; see ``attempts_left``), ``locked``
    (no attempts left) or ``expired``. A used verification answers 409."""
    view = await run(container, verification.check_code, container.deps, verification_id,
                     body.code, actor=actor_of(key))
    return json_response(VerificationOut.of(view))


@router.post("/{verification_id}/resend", response_model=VerificationOut, responses=_errors,
             summary="Send a new code")
async def resend(verification_id: VerificationId, request: Request, container: ContainerDep,
                 key: WriteKey) -> Response:
    """The previous code stops working. Cooldown: 30 s, then 60 s, then 120 s; at most 5 codes
    per contact per hour (429 with ``Retry-After`` otherwise)."""

    async def handle() -> Response:
        view = await run(container, verification.resend_code, container.deps, verification_id)
        return json_response(VerificationOut.of(view))

    return await idempotent(request, key, handle)
