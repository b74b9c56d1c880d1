"""/v1/protection: the SMS-pumping guard's blocks (issue 11)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from fastapi import APIRouter, Path, Query
from fastapi.responses import Response
from pydantic import BaseModel, Field

from contactguard.domain.abuse import Block
from contactguard.entrypoints.api.deps import (
    AdminKey,
    ContainerDep,
    ReadKey,
    actor_of,
    json_response,
    run,
)
from contactguard.entrypoints.api.schemas import problem_responses
from contactguard.services import abuse

router = APIRouter(prefix="/v1/protection", tags=["protection"])

BlockId = Annotated[int, Path(ge=1, le=2**62)]
_errors = problem_responses(401, 404, 422, 429)


class BlockOut(BaseModel):
    id: int
    prefix: str = Field(description="The E.164 numbers starting with this are refused "
                                    "(a number without its last 4 digits).",
                        examples=["+882345678"])
    country: str = Field(description="Region of the prefix ('001': non-geographic).")
    reason: str = Field(description="prefix_velocity (too many codes never entered) or "
                                    "low_conversion (too few of them entered).")
    sent: int = Field(description="Codes sent to the prefix in the guard's window.")
    verified: int = Field(description="How many of them were entered.")
    created_at: datetime
    expires_at: datetime
    lifted_at: datetime | None = None
    lifted_by: str | None = None
    active: bool

    @classmethod
    def of(cls, block: Block, now: datetime) -> BlockOut:
        return cls(id=block.id, prefix=block.prefix, country=block.country,
                   reason=block.reason.value, sent=block.sent, verified=block.verified,
                   created_at=block.created_at, expires_at=block.expires_at,
                   lifted_at=block.lifted_at, lifted_by=block.lifted_by,
                   active=block.active(now))


class BlockList(BaseModel):
    data: list[BlockOut]


@router.get("/blocks", response_model=BlockList, responses=_errors,
            summary="List prefixes blocked by the SMS-pumping guard")
async def list_blocks(container: ContainerDep, key: ReadKey,
                      all: Annotated[bool, Query(description="Also lifted and expired blocks")]
                      = False,
                      limit: Annotated[int, Query(ge=1, le=1000)] = 100) -> Response:
    """Blocks in force, newest first. A blocked prefix gets no code by SMS or voice call
    until the block expires or is lifted (`DELETE`); senders see a `destination-blocked`
    problem."""
    blocks = await run(container, abuse.list_blocks, container.deps, include_inactive=all,
                       limit=limit)
    now = container.deps.clock.now()
    return json_response(BlockList(data=[BlockOut.of(b, now) for b in blocks]))


@router.delete("/blocks/{block_id}", response_model=BlockOut, responses=_errors,
               summary="Lift a block")
async def lift(block_id: BlockId, container: ContainerDep, key: AdminKey) -> Response:
    """Codes to the prefix are sent again at once (its past sends still count towards the
    next block). Audited as `protection.block_lifted`."""
    block = await run(container, abuse.lift_block, container.deps, block_id, actor=actor_of(key))
    return json_response(BlockOut.of(block, container.deps.clock.now()))
