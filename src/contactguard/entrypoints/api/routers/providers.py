"""/v1/providers: delivery status callbacks from SMS and voice providers (signed, no API key)."""

from __future__ import annotations

from fastapi import APIRouter, Request
from fastapi.responses import Response

from contactguard.entrypoints.api.deps import ContainerDep, run
from contactguard.entrypoints.api.schemas import Problem
from contactguard.errors import InvalidSignature, ValidationFailed
from contactguard.services.receipts import record_receipt

router = APIRouter(prefix="/v1/providers", tags=["providers"])


@router.post("/twilio/status", status_code=204,
             responses={403: {"model": Problem}, 404: {"model": Problem}},
             summary="Twilio delivery status callback (authenticated by X-Twilio-Signature)")
async def twilio_status(request: Request, container: ContainerDep) -> Response:
    form = await request.form()
    params = {key: value for key, value in form.items() if isinstance(value, str)}
    validator = container.extras["twilio_validator"]
    if not validator.valid(params, request.headers.get("x-twilio-signature")):
        raise InvalidSignature("X-Twilio-Signature is missing or does not match this request")
    sid = params.get("MessageSid") or params.get("CallSid")
    state = params.get("MessageStatus") or params.get("CallStatus")
    if not sid or not state:
        raise ValidationFailed("expected MessageSid/MessageStatus or CallSid/CallStatus")
    await run(container, record_receipt, container.deps, provider="twilio",
              provider_message_id=sid[:255], status=state, error_code=params.get("ErrorCode"))
    return Response(status_code=204)
