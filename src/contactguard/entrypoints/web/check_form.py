"""The "Is this message genuine?" form, shared by the Seller Center (``/seller/check``) and the
console (``/console/check``): a pasted text, an uploaded ``.eml`` file or a reference code,
read within the checker's 25 MB and judged by :func:`services.checker.check_message`.

Not a page module: it only reads the form and calls the service; each surface renders its
own template from the :class:`CheckOutcome`.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial

import anyio
from fastapi import Request
from starlette.datastructures import UploadFile

from contactguard.domain.accounts import is_valid_external_id
from contactguard.domain.phishing import CheckResult
from contactguard.domain.sessions import Realm
from contactguard.entrypoints.web.pages import CsrfFailed, WebContext
from contactguard.errors import (
    AccountNotFound,
    MessageTooLarge,
    MessageUnparseable,
    ValidationFailed,
)
from contactguard.services.checker import MAX_MESSAGE_BYTES, check_message

#: The body limit of the check pages (guard.LARGE_BODY_ROUTES): a 25 MB message plus the
#: multipart framing and the form's few small fields.
MAX_FORM_BYTES = MAX_MESSAGE_BYTES + 256 * 1024
MODES = ("text", "file", "reference")


@dataclass
class CheckOutcome:
    """What the page shows: the form as submitted, the result, or an error code for a field
    (``empty``, ``no_file``, ``invalid_reference``, ``unparseable``, ``too_large``,
    ``account``)."""

    mode: str = "text"
    text: str = ""
    reference: str = ""
    account: str = ""
    filename: str = ""
    result: CheckResult | None = None
    error: str | None = None

    @property
    def status(self) -> int:
        if self.error is None:
            return 200
        return 413 if self.error == "too_large" else 422


async def judge_form(web: WebContext, request: Request, realm: Realm, *, locale: str,
                     account: str | None = None) -> CheckOutcome:
    """Read the submitted form (CSRF checked) and judge it. ``account`` limits genuine to
    what that account was sent (the Seller Center passes the seller's own account); the
    console passes the account typed in the form, if any."""
    form = await request.form(max_files=1, max_fields=12, max_part_size=MAX_FORM_BYTES)
    texts = {k: v for k, v in form.items() if isinstance(v, str)}
    if not web.session(request, realm).csrf_ok(texts.get("csrf_token")):
        raise CsrfFailed
    mode = texts.get("mode", "text")
    outcome = CheckOutcome(mode=mode if mode in MODES else "text",
                           account=texts.get("account", "").strip()[:128])
    kwargs: dict[str, object] = {}
    if outcome.mode == "file":
        upload = form.get("file")
        raw = await _read_upload(upload) if isinstance(upload, UploadFile) else b""
        if isinstance(upload, UploadFile):
            outcome.filename = (upload.filename or "")[:200]
        if raw is None:
            outcome.error = "too_large"
            return outcome
        if not raw:
            outcome.error = "no_file"
            return outcome
        kwargs["raw"] = raw
    elif outcome.mode == "reference":
        outcome.reference = texts.get("reference", "").strip()[:64]
        if not outcome.reference:
            outcome.error = "invalid_reference"
            return outcome
        kwargs["reference"] = outcome.reference
    else:
        outcome.text = texts.get("text", "")
        if not outcome.text.strip():
            outcome.error = "empty"
            return outcome
        kwargs["text"] = outcome.text
    if account is None and outcome.account:
        if not is_valid_external_id(outcome.account):
            outcome.error = "account"
            return outcome
        account = outcome.account
    call = partial(check_message, web.container.deps, locale=locale, account=account,
                   **kwargs)  # type: ignore[arg-type]
    try:
        outcome.result = await anyio.to_thread.run_sync(
            call, limiter=web.container.extras.get("limiter"))
    except MessageTooLarge:
        outcome.error = "too_large"
    except AccountNotFound:
        outcome.error = "account"
    except MessageUnparseable:
        outcome.error = "unparseable"
    except ValidationFailed as exc:
        codes = {error.code for error in exc.errors}
        outcome.error = ("invalid_reference" if "invalid_reference" in codes
                         else "unparseable" if outcome.mode == "file" else "empty")
    return outcome


async def _read_upload(upload: UploadFile) -> bytes | None:
    """The file's bytes, or None when it is larger than the checker takes."""
    data = await upload.read(MAX_MESSAGE_BYTES + 1)
    await upload.close()
    return None if len(data) > MAX_MESSAGE_BYTES else data
