"""Every error leaves the API as an RFC 9457 problem detail (``application/problem+json``)."""

from __future__ import annotations

import logging
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from contactguard import errors
from contactguard.errors import ContactGuardError, FieldError, InsufficientScope, RateLimited

log = logging.getLogger("contactguard.api")

PROBLEM_MEDIA_TYPE = "application/problem+json"


def problem_type(code: str) -> str:
    return f"/problems/{code}"


def problem_response(request: Request, *, status: int, code: str, title: str, detail: str,
                     field_errors: list[FieldError] | None = None,
                     headers: dict[str, str] | None = None,
                     extra: dict[str, Any] | None = None) -> JSONResponse:
    body: dict[str, Any] = {
        "type": problem_type(code), "title": title, "status": status, "detail": detail,
        "instance": request.url.path,
        "errors": [{"field": e.field, "message": e.message, "code": e.code}
                   for e in field_errors or []],
    }
    body.update(extra or {})
    return JSONResponse(body, status_code=status, headers=headers, media_type=PROBLEM_MEDIA_TYPE)


def error_response(request: Request, exc: ContactGuardError) -> JSONResponse:
    headers: dict[str, str] = {}
    extra: dict[str, Any] = {}
    if isinstance(exc, RateLimited):
        headers["Retry-After"] = str(exc.retry_after_seconds)
        extra = {"retry_after": exc.retry_after_seconds, "retry_at": exc.retry_at.isoformat()}
        headers.update(exc.headers)
    if isinstance(exc, InsufficientScope):
        extra = {"required_scope": exc.required, "granted_scopes": exc.granted}
    if isinstance(exc, errors.DestinationBlocked):
        extra = {"reason": exc.reason, "alternative": exc.alternative}
    if exc.status == 401:
        headers["WWW-Authenticate"] = "Bearer"
    return problem_response(request, status=exc.status, code=exc.code, title=exc.title,
                            detail=exc.detail, field_errors=exc.errors, headers=headers,
                            extra=extra)


def _validation_response(request: Request, exc: RequestValidationError) -> JSONResponse:
    raw = exc.errors()
    content_type = request.headers.get("content-type", "")
    if content_type and "json" not in content_type and any(
            tuple(e.get("loc", ())) == ("body",) for e in raw):
        return problem_response(request, status=415, code="unsupported-media-type",
                                title="Unsupported media type",
                                detail="send the body as JSON with 'Content-Type: application/json'")
    if any(e.get("type") == "json_invalid" for e in raw):
        return problem_response(request, status=400, code="malformed-json", title="Malformed JSON",
                                detail="the request body is not valid JSON")
    field_errors = [FieldError(_field_path(e.get("loc", ())), _message(e), str(e.get("type")))
                    for e in raw]
    if any(e.field == "" for e in field_errors) and len(field_errors) == 1:
        detail = field_errors[0].message
    else:
        detail = "; ".join(f"{e.field}: {e.message}" for e in field_errors[:5])
    return problem_response(request, status=422, code="validation-error", title="Invalid input",
                            detail=detail, field_errors=field_errors)


def _field_path(loc: Any) -> str:
    parts = [str(p) for p in loc]
    if parts and parts[0] in {"body", "query", "path", "header"}:
        parts = parts[1:]
    return ".".join(parts)


def _message(error: dict[str, Any]) -> str:
    if error.get("type") == "missing" and not _field_path(error.get("loc", ())):
        return "a JSON request body is required"
    message = str(error.get("msg", "invalid value"))
    return message[0].lower() + message[1:] if message else message


def install_problem_handlers(app: FastAPI) -> None:
    @app.exception_handler(ContactGuardError)
    async def _domain(request: Request, exc: ContactGuardError) -> JSONResponse:
        if exc.status >= 500:
            log.error("request failed: %s", exc.detail)
        return error_response(request, exc)

    @app.exception_handler(RequestValidationError)
    async def _invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        return _validation_response(request, exc)

    @app.exception_handler(StarletteHTTPException)
    async def _http(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        titles = {404: ("not-found", "Not found"), 405: ("method-not-allowed", "Method not allowed"),
                  413: (errors.PayloadTooLarge.code, errors.PayloadTooLarge.title)}
        code, title = titles.get(exc.status_code, ("http-error", "Request failed"))
        detail = exc.detail if isinstance(exc.detail, str) else title
        if exc.status_code == 404 and detail == "Not Found":
            detail = f"no resource at {request.url.path}"
        return problem_response(request, status=exc.status_code, code=code, title=title,
                                detail=detail, headers=getattr(exc, "headers", None))

    @app.exception_handler(Exception)
    async def _unexpected(request: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error on %s %s", request.method, request.url.path)
        return problem_response(request, status=500, code="internal-error",
                                title="Internal server error",
                                detail="something went wrong on our side; it has been logged")


def problem_catalog() -> dict[str, dict[str, Any]]:
    """Every problem type the API can return, for ``GET /problems/{code}``."""
    catalog: dict[str, dict[str, Any]] = {}
    stack: list[type[ContactGuardError]] = [errors.ContactGuardError]
    while stack:
        cls = stack.pop()
        stack.extend(cls.__subclasses__())
        catalog[cls.code] = {"type": problem_type(cls.code), "title": cls.title,
                             "status": cls.status,
                             "description": (cls.__doc__ or cls.title).strip().splitlines()[0]}
    for code, title, status in [("malformed-json", "Malformed JSON", 400),
                                ("unsupported-media-type", "Unsupported media type", 415),
                                ("method-not-allowed", "Method not allowed", 405),
                                ("internal-error", "Internal server error", 500)]:
        catalog[code] = {"type": problem_type(code), "title": title, "status": status,
                         "description": title}
    return catalog
