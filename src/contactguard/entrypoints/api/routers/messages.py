"""/v1/messages/check: is this message genuine? (the sent ledger and the message checker)."""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Literal

import anyio
from fastapi import APIRouter, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from contactguard.domain.phishing import CheckResult, reader_locale
from contactguard.entrypoints.api.deps import ContainerDep, WriteKey, json_response
from contactguard.entrypoints.api.schemas import problem_responses
from contactguard.errors import MessageTooLarge, UnsupportedMediaType
from contactguard.services.checker import MAX_MESSAGE_BYTES, check_message

router = APIRouter(prefix="/v1/messages", tags=["messages"])

#: JSON escapes (``\r\n``, ``\u00e9``) make a message's JSON larger than the message itself.
_MAX_JSON_BYTES = 2 * MAX_MESSAGE_BYTES + 65536
_RAW_TYPES = {"message/rfc822", "application/octet-stream"}


class MessageCheckIn(BaseModel):
    """Exactly one of ``raw``, ``text`` or ``reference``."""

    model_config = ConfigDict(extra="forbid")

    raw: str | None = Field(None, description="The whole message as text (RFC 5322 source).")
    text: str | None = Field(None, description="A pasted body, or an SMS.")
    reference: str | None = Field(None, max_length=64, examples=["CG-7KQ4-M9XD"],
                                  description="A reference code from a message.")
    account: str | None = Field(None, max_length=128, description=(
        "Optional: the reader's account (external id). A message sent to another account is "
        "then not genuine for them."))


class ReasonOut(BaseModel):
    code: str = Field(examples=["lookalike_domain"])
    message: str = Field(description="What the sign means, in the reader's language.")
    evidence: str = Field(description="What was found (a domain, an address, a phrase).")


class MatchedOut(BaseModel):
    reference: str
    channel: str
    sent_at: datetime
    recipient: str | None = Field(description="Masked: o•••@example.com, +86 ••• ••• 9988.")


class MessageCheckOut(BaseModel):
    verdict: Literal["genuine", "phishing", "unrelated"]
    reasons: list[ReasonOut]
    matched: MatchedOut | None

    @classmethod
    def of(cls, result: CheckResult) -> MessageCheckOut:
        matched = result.matched
        return cls(
            verdict=result.verdict.value,
            reasons=[ReasonOut(code=r.code.value, message=r.message, evidence=r.evidence)
                     for r in result.reasons],
            matched=MatchedOut(reference=matched.reference, channel=matched.channel,
                               sent_at=matched.sent_at, recipient=matched.recipient)
            if matched else None)


_REQUEST_BODY = {
    "required": True,
    "content": {
        "message/rfc822": {"schema": {"type": "string", "format": "binary"}},
        "application/json": {"schema": MessageCheckIn.model_json_schema()},
        "text/plain": {"schema": {"type": "string"}},
    },
}


@router.post("/check", response_model=MessageCheckOut, openapi_extra={"requestBody": _REQUEST_BODY},
             responses=problem_responses(400, 401, 404, 413, 415, 422),
             summary="Is this message genuine?")
async def check(request: Request, container: ContainerDep, key: WriteKey) -> Response:
    """Send the suspicious message as ``message/rfc822`` (an .eml file), as JSON ``{"raw"}``,
    ``{"text"}`` (a pasted body or SMS) or ``{"reference": "CG-XXXX-XXXX"}``, or as
    ``text/plain`` (a pasted text); up to 25 MB.

    ``verdict``: ``genuine`` (sent by us and unchanged), ``phishing`` (claims to be us and is
    not) or ``unrelated``. Each reason names a warning sign, explained in the language of
    ``Accept-Language`` (English, Simplified Chinese, German, Spanish, Portuguese or French).
    """
    media = (request.headers.get("content-type") or "").split(";")[0].strip().lower()
    is_json = media == "application/json" or media.endswith("+json")
    if not (is_json or media in _RAW_TYPES or media == "text/plain"):
        raise UnsupportedMediaType("send message/rfc822, application/json or text/plain")
    body = await _read_body(request, _MAX_JSON_BYTES if is_json else MAX_MESSAGE_BYTES)
    locale = preferred_locale(request.headers.get("accept-language"))
    kwargs: dict[str, object] = {"locale": locale}
    if is_json:
        try:
            payload = MessageCheckIn.model_validate_json(body or b"null")
        except ValidationError as exc:
            raise RequestValidationError([{**error, "loc": ("body", *error["loc"])}
                                          for error in exc.errors(include_url=False)]) from None
        kwargs.update(raw=payload.raw.encode("utf-8", "surrogatepass") if payload.raw is not None
                      else None, text=payload.text, reference=payload.reference,
                      account=payload.account)
    elif media == "text/plain":
        kwargs["text"] = body.decode("utf-8", "replace")
    else:
        kwargs["raw"] = body
    call = partial(check_message, container.deps, **kwargs)  # type: ignore[arg-type]
    result = await anyio.to_thread.run_sync(call, limiter=container.extras.get("limiter"))
    response = json_response(MessageCheckOut.of(result))
    response.headers["Content-Language"] = locale
    return response


async def _read_body(request: Request, limit: int) -> bytes:
    """The request body, refused (413) as soon as it passes ``limit`` bytes."""
    declared = request.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        raise MessageTooLarge(f"the request body is {int(declared):,} bytes; the checker takes "
                              f"messages up to {MAX_MESSAGE_BYTES:,} bytes (25 MB)")
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > limit:
            raise MessageTooLarge(f"the request body is over {limit:,} bytes; the checker takes "
                                  f"messages up to {MAX_MESSAGE_BYTES:,} bytes (25 MB)")
        chunks.append(chunk)
    return b"".join(chunks)


def preferred_locale(header: str | None) -> str:
    """The reader's best language among the checker's (``Accept-Language``), else English."""
    ranked: list[tuple[float, int, str]] = []
    for index, item in enumerate((header or "").split(",")):
        tag, _, params = item.strip().partition(";")
        quality = 1.0
        if params.strip().startswith("q="):
            try:
                quality = float(params.strip()[2:])
            except ValueError:
                quality = 0.0
        if tag.strip() and quality > 0:
            ranked.append((-quality, index, tag.strip()))
    for _quality, _index, tag in sorted(ranked):
        if tag == "*":
            return "en"
        found = reader_locale(tag)
        if found:
            return found
    return "en"
