"""/v1/accounts: the contact registry."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Request
from fastapi.responses import Response

from contactguard.domain.contacts import ContactKind
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
    AccountIn,
    AccountOut,
    ContactIn,
    ContactList,
    ContactOut,
    problem_responses,
)
from contactguard.services import accounts

router = APIRouter(prefix="/v1/accounts", tags=["accounts"])

ExternalId = Annotated[str, Path(max_length=128, description="The platform's id for the account")]
_errors = problem_responses(401, 404, 422)


@router.post("", response_model=AccountOut, status_code=201,
             responses={**_errors, 200: {"model": AccountOut, "description": "Updated"}},
             summary="Create or update an account by external_id")
async def upsert_account(body: AccountIn, request: Request, container: ContainerDep,
                         key: WriteKey) -> Response:
    """Creates the account (201) or updates the fields given (200); contacts may be set too."""
    data = accounts.AccountInput(external_id=body.external_id, name=body.name,
                                 country=body.country, locale=body.locale,
                                 time_zone=body.time_zone, contacts=body.contacts or {})

    async def handle() -> Response:
        view, created = await run(container, accounts.upsert_account, container.deps, data,
                                  actor=actor_of(key))
        location = f"/v1/accounts/{view.account.external_id}"
        return json_response(AccountOut.of(view), 201 if created else 200,
                             headers={"Location": location})

    return await idempotent(request, key, handle)


@router.get("/{external_id}", response_model=AccountOut, responses=_errors,
            summary="Get an account with its contacts")
async def get_account(external_id: ExternalId, container: ContainerDep,
                      key: ReadKey) -> Response:
    view = await run(container, accounts.get_account, container.deps, external_id)
    return json_response(AccountOut.of(view))


@router.get("/{external_id}/contacts", response_model=ContactList, responses=_errors,
            summary="List an account's contacts")
async def list_contacts(external_id: ExternalId, container: ContainerDep,
                        key: ReadKey) -> Response:
    views = await run(container, accounts.list_contacts, container.deps, external_id)
    return json_response(ContactList(data=[ContactOut.of(v) for v in views]))


@router.put("/{external_id}/contacts/{kind}", response_model=ContactOut, responses=_errors,
            summary="Set a contact value")
async def set_contact(external_id: ExternalId, kind: ContactKind, body: ContactIn,
                      container: ContainerDep, key: WriteKey) -> Response:
    """Phones are parsed with the account's country as default region and stored as E.164.

    A changed value must be verified; until then the previous verified value stays in force.
    """
    view = await run(container, accounts.set_contact, container.deps, external_id, kind,
                     body.value, actor=actor_of(key))
    return json_response(ContactOut.of(view))
