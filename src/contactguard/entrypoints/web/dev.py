"""Dev-mode pages: sign in as a demo seller, and the inbox of captured messages."""

from __future__ import annotations

from urllib.parse import urlsplit

from fastapi import APIRouter, Request
from fastapi.responses import PlainTextResponse, Response

from contactguard.entrypoints.api.deps import run
from contactguard.entrypoints.web.pages import PageNotFound, web_of
from contactguard.errors import AccountNotFound, NotFound
from contactguard.services import accounts
from contactguard.services.dev import DEMO_ACCOUNTS, get_captured_message, list_captured_messages
from contactguard.services.seller_sessions import create_session_link

router = APIRouter(prefix="/dev", include_in_schema=False)

_INBOX_LIMIT = 300


@router.get("/login")
async def login_page(request: Request) -> Response:
    web = web_of(request)
    sellers = []
    for demo in DEMO_ACCOUNTS:
        try:
            view = await run(web.container, accounts.get_account, web.container.deps,
                             demo.external_id)
        except AccountNotFound:
            continue
        sellers.append(view)
    return web.render(request, "dev_login.html", {"sellers": sellers})


@router.post("/login")
async def login(request: Request) -> Response:
    """Sign in through a fresh account-session link, exactly as the platform would."""
    web = web_of(request)
    form = await web.check_csrf(request)
    try:
        link = await run(web.container, create_session_link, web.container.deps,
                         form.get("account", ""), base_url=web.container.settings.public_url)
    except AccountNotFound:
        raise PageNotFound from None
    return web.redirect(request, urlsplit(link.url).path)


@router.get("/inbox")
async def inbox(request: Request) -> Response:
    """Captured emails, SMS and voice scripts, grouped per recipient, newest first."""
    web = web_of(request)
    found = await run(web.container, list_captured_messages, web.container.deps,
                      limit=_INBOX_LIMIT)
    groups: dict[str, list[object]] = {}
    for message in found:
        groups.setdefault(message.to, []).append(message)
    return web.render(request, "dev_inbox.html", {"groups": groups, "total": len(found)})


@router.get("/inbox/{message_id}/raw")
async def raw(request: Request, message_id: int) -> Response:
    web = web_of(request)
    try:
        found = await run(web.container, get_captured_message, web.container.deps, message_id)
    except NotFound:
        raise PageNotFound from None
    text = found.raw.decode("utf-8", "replace") if found.raw else found.body
    return web.finish(request, PlainTextResponse(text))
