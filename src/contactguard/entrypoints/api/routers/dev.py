"""/v1/dev: dev-mode helpers (mounted only when CONTACTGUARD_DEV=1)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response

from contactguard.entrypoints.api.deps import ContainerDep, ReadKey, json_response, run
from contactguard.entrypoints.api.schemas import DevMessageList, DevMessageOut, Problem
from contactguard.services.dev import get_captured_message, list_captured_messages

router = APIRouter(prefix="/v1/dev", tags=["dev"])


@router.get("/messages", response_model=DevMessageList, responses={401: {"model": Problem}},
            summary="Messages captured instead of sent (dev mode)")
async def messages(container: ContainerDep, key: ReadKey,
                   to: Annotated[str | None, Query(max_length=320,
                                                   description="E.164 number or email")] = None,
                   limit: Annotated[int, Query(ge=1, le=500)] = 50) -> Response:
    found = await run(container, list_captured_messages, container.deps, to=to, limit=limit)
    return json_response(DevMessageList(data=[DevMessageOut.of(m) for m in found]))


@router.get("/messages/{message_id}/raw", responses={401: {"model": Problem},
                                                    404: {"model": Problem}},
            response_class=Response, summary="The raw (DKIM-signed) bytes of a captured email")
async def message_raw(container: ContainerDep, key: ReadKey,
                      message_id: Annotated[int, Path(ge=1, le=2**62)]) -> Response:
    found = await run(container, get_captured_message, container.deps, message_id)
    if found.raw is None:
        return Response(found.body.encode(), media_type="text/plain; charset=utf-8")
    return Response(found.raw, media_type="message/rfc822")
