"""/v1/audit: the append-only, hash-chained log of every change."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response

from contactguard.entrypoints.api.deps import ApiKeyDep, ContainerDep, json_response, run
from contactguard.entrypoints.api.policy_schemas import AuditEntryOut, AuditList, ChainReportOut
from contactguard.entrypoints.api.schemas import problem_responses
from contactguard.services import audit

router = APIRouter(prefix="/v1/audit", tags=["audit"])
_errors = problem_responses(401, 422)


@router.get("", response_model=AuditList, responses=_errors, summary="Audit entries, newest first")
async def list_entries(container: ContainerDep, key: ApiKeyDep,
                       limit: Annotated[int, Query(ge=1, le=500)] = 50,
                       before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
                       subject: Annotated[str | None, Query(max_length=200, examples=[
                           "account:seller-1042"])] = None) -> Response:
    entries = await run(container, audit.list_entries, container.deps, limit=limit,
                        before_seq=before, subject=subject)
    return json_response(AuditList(data=[AuditEntryOut.of(e) for e in entries]))


@router.get("/verify", response_model=ChainReportOut, responses=_errors,
            summary="Check the hash chain")
async def verify(container: ContainerDep, key: ApiKeyDep) -> Response:
    report = await run(container, audit.verify_chain, container.deps)
    return json_response(ChainReportOut.of(report))
