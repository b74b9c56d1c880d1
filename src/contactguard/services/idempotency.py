"""``Idempotency-Key`` support: the first response to a key is stored and replayed for 24 hours."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from contactguard.errors import FieldError, IdempotencyConflict, ValidationFailed
from contactguard.services.deps import Deps

KEY_LIFETIME = timedelta(hours=24)
MAX_KEY_LENGTH = 255


@dataclass(frozen=True, slots=True)
class StoredResponse:
    status_code: int
    body: str
    headers: dict[str, str]


@dataclass(frozen=True, slots=True)
class Claim:
    """Either a replay of an earlier response, or a fresh claim to complete or release."""

    replay: StoredResponse | None = None
    row_id: int | None = None


def request_fingerprint(method: str, path: str, body: bytes) -> str:
    return hashlib.sha256(b"\n".join([method.encode(), path.encode(), body])).hexdigest()


def claim_key(deps: Deps, *, api_key_id: int, key: str, fingerprint: str) -> Claim:
    """Claim ``key`` for a new request, or return the stored response of the first one.

    Raises ValidationFailed for a bad key, IdempotencyConflict when the key was used for a
    different request or its first request is still running.
    """
    if not 0 < len(key) <= MAX_KEY_LENGTH or not key.isprintable():
        raise ValidationFailed("Idempotency-Key must be 1-255 printable characters", errors=[
            FieldError("Idempotency-Key", "1-255 printable characters", "invalid")])
    now = deps.clock.now()
    for _ in range(2):
        with deps.uow() as uow:
            row = uow.idempotency.find(api_key_id, key)
            if row is not None and row.created_at < now - KEY_LIFETIME:
                uow.idempotency.release(row.id)
                row = None
            if row is not None:
                if row.request_hash != fingerprint:
                    raise IdempotencyConflict(
                        "this Idempotency-Key was already used for a different request")
                if not row.completed:
                    raise IdempotencyConflict(
                        "a request with this Idempotency-Key is still being processed; retry later")
                return Claim(replay=StoredResponse(row.status_code, row.response_body,
                                                   dict(row.response_headers or {})))
            row_id = uow.idempotency.claim(api_key_id, key, fingerprint, now)
            if row_id is None:
                continue  # another request claimed it between our read and insert: read again
            uow.commit()
            return Claim(row_id=row_id)
    raise IdempotencyConflict("a request with this Idempotency-Key is still being processed")


def complete_key(deps: Deps, row_id: int, response: StoredResponse) -> None:
    with deps.uow() as uow:
        uow.idempotency.complete(row_id, response.status_code, response.body, response.headers)
        uow.commit()


def release_key(deps: Deps, row_id: int) -> None:
    """Forget a claim whose request failed unexpectedly, so that a retry can run."""
    with deps.uow() as uow:
        uow.idempotency.release(row_id)
        uow.commit()


def purge_expired_keys(deps: Deps) -> int:
    with deps.uow() as uow:
        count = uow.idempotency.purge_before(deps.clock.now() - KEY_LIFETIME)
        uow.commit()
    return int(count)
