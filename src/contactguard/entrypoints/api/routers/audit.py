"""/v1/audit: the append-only, hash-chained log of every change."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from contactguard.domain.audit import ANCHOR_KIND, AuditAnchor, anchor_to_document
from contactguard.entrypoints.api.deps import AdminKey, ContainerDep, ReadKey, json_response, run
from contactguard.entrypoints.api.policy_schemas import AuditEntryOut, AuditList, ChainReportOut
from contactguard.entrypoints.api.schemas import problem_responses
from contactguard.services import audit

router = APIRouter(prefix="/v1/audit", tags=["audit"])
_errors = problem_responses(401, 422)


@router.get("", response_model=AuditList, responses=_errors, summary="Audit entries, newest first")
async def list_entries(container: ContainerDep, key: ReadKey,
                       limit: Annotated[int, Query(ge=1, le=500)] = 50,
                       before: Annotated[int | None, Query(ge=1, le=2**62)] = None,
                       subject: Annotated[str | None, Query(max_length=200, examples=[
                           "account:seller-1042"])] = None) -> Response:
    entries = await run(container, audit.list_entries, container.deps, limit=limit,
                        before_seq=before, subject=subject)
    return json_response(AuditList(data=[AuditEntryOut.of(e) for e in entries]))


@router.get("/verify", response_model=ChainReportOut, responses=_errors,
            summary="Check the hash chain")
async def verify(container: ContainerDep, key: ReadKey) -> Response:
    report = await run(container, audit.verify_chain, container.deps)
    return json_response(ChainReportOut.of(report))


class AnchorOut(BaseModel):
    kind: str = Field(description=f"Always `{ANCHOR_KIND}`")
    v: int = Field(description="Format version")
    seq: int = Field(description="The anchored entry (the chain's head when it was made)")
    hash: str = Field(description="That entry's chain hash")
    at: datetime
    signature: str = Field(description="HMAC-SHA256 with a key derived from the secret key")

    @classmethod
    def of(cls, anchor: AuditAnchor) -> AnchorOut:
        return cls.model_validate(anchor_to_document(anchor))


@router.get("/anchor", response_model=AnchorOut, responses=problem_responses(401, 403, 409),
            summary="A signed checkpoint of the chain's head")
async def anchor(container: ContainerDep, key: AdminKey) -> Response:
    """Store the answer where the database's administrators cannot change it (an object
    store with retention, another host); `contactguard audit verify --anchor FILE` then
    detects the newest entries deleted and the head rewound."""
    made = await run(container, audit.make_anchor, container.deps)
    return json_response(AnchorOut.of(made), headers={"Cache-Control": "no-store"})
