"""One exception tree for the whole product; the API translates it to problem details.

Every error carries a stable ``code`` (a slug used in the problem ``type``), an HTTP-ish
``status`` hint, a human ``detail`` and optional field errors. Services raise these;
entrypoints never raise HTTP exceptions of their own for domain failures.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class FieldError:
    """One problem with one input field (``field`` is a dotted path such as ``contacts.emergency_phone``).

    ``code`` names the problem; ``params`` are the values its message quotes (the input, a
    region, ...), so pages can word it in the reader's language from the code alone.
    """

    field: str
    message: str
    code: str = "invalid"
    params: Mapping[str, str] | None = None


class ContactGuardError(Exception):
    """Root of every error ContactGuard raises on purpose."""

    code = "error"
    title = "Request failed"
    status = 400

    def __init__(self, detail: str, *, errors: list[FieldError] | None = None) -> None:
        super().__init__(detail)
        self.detail = detail
        self.errors = errors or []


class ValidationFailed(ContactGuardError):
    """Input was well-formed but not acceptable; ``errors`` says which fields and why."""

    code = "validation-error"
    title = "Invalid input"
    status = 422


class NotFound(ContactGuardError):
    code = "not-found"
    title = "Not found"
    status = 404


class AccountNotFound(NotFound):
    code = "account-not-found"
    title = "Account not found"


class ContactNotFound(NotFound):
    code = "contact-not-found"
    title = "Contact not found"


class VerificationNotFound(NotFound):
    code = "verification-not-found"
    title = "Verification not found"


class Conflict(ContactGuardError):
    code = "conflict"
    title = "Conflict"
    status = 409


class VerificationClosed(Conflict):
    """The challenge was already used, or replaced by a newer one."""

    code = "verification-closed"
    title = "Verification no longer open"


class ChannelNotAllowed(ValidationFailed):
    """The contact cannot receive codes on the requested channel (e.g. SMS to a landline)."""

    code = "channel-not-allowed"
    title = "Channel not available for this contact"


class IdempotencyConflict(Conflict):
    code = "idempotency-conflict"
    title = "Idempotency-Key conflict"


class RateLimited(ContactGuardError):
    """Too many requests; ``retry_at`` says when the next one will be accepted."""

    code = "rate-limited"
    title = "Too many requests"
    status = 429

    def __init__(self, detail: str, *, retry_at: datetime, retry_after_seconds: int,
                 headers: Mapping[str, str] | None = None) -> None:
        super().__init__(detail)
        self.retry_at = retry_at
        self.retry_after_seconds = retry_after_seconds
        #: Extra response headers (``RateLimit``, ``RateLimit-Policy``) of a shared limit.
        self.headers = dict(headers or {})


class Unauthorized(ContactGuardError):
    code = "unauthorized"
    title = "Authentication required"
    status = 401


class InvalidSignature(ContactGuardError):
    """A callback's signature is missing or does not match (e.g. X-Twilio-Signature)."""

    code = "invalid-signature"
    title = "Invalid signature"
    status = 403


class ConfigurationError(ContactGuardError):
    """Settings are missing or contradictory; raised at start-up, never for a request."""

    code = "configuration-error"
    title = "Configuration error"
    status = 500


class DeliveryError(ContactGuardError):
    """A message could not be handed to its transport."""

    code = "delivery-error"
    title = "Delivery failed"
    status = 502


class TransientDeliveryError(DeliveryError):
    """Worth retrying later (SMTP 4xx, connection errors, HTTP 429/5xx, timeouts)."""

    code = "delivery-transient"


class PermanentDeliveryError(DeliveryError):
    """Retrying will not help (SMTP 5xx, invalid number, landline cannot receive SMS).

    ``recipient_fault`` says the destination itself cannot receive on this channel (the
    contact is then marked undeliverable for it), as opposed to a refusal of the message.
    """

    code = "delivery-permanent"

    def __init__(self, detail: str, *, recipient_fault: bool = False) -> None:
        super().__init__(detail)
        self.recipient_fault = recipient_fault


class HandoverRefused(DeliveryError):
    """The worker lost its lease before handing the message over; another worker owns it."""

    code = "delivery-handover-refused"


class SessionLinkInvalid(ContactGuardError):
    """An account-session link that is unknown, already used or expired."""

    code = "session-link-invalid"
    title = "Link used or expired"
    status = 410


class TooManyContactChanges(RateLimited):
    """The account replaced verified contacts more often in 24 hours than the policy allows."""

    code = "too-many-contact-changes"
    title = "Too many contact changes"

    def __init__(self, detail: str, *, retry_at: datetime, retry_after_seconds: int,
                 limit: int = 0) -> None:
        super().__init__(detail, retry_at=retry_at, retry_after_seconds=retry_after_seconds)
        self.limit = limit


# --- Operator console (issue 8) ---


class Forbidden(ContactGuardError):
    """The signed-in operator's role does not allow this action."""

    code = "forbidden"
    title = "Not allowed for your role"
    status = 403


class InsufficientScope(Forbidden):
    """The API key is valid but lacks the scope this route needs (the problem names it)."""

    code = "insufficient-scope"
    title = "API key lacks the scope"

    def __init__(self, detail: str, *, required: str, granted: list[str]) -> None:
        super().__init__(detail)
        self.required = required
        self.granted = granted


class InvalidAnchor(ValidationFailed):
    """An audit anchor whose signature does not match: altered, or made with another key."""

    code = "invalid-anchor"
    title = "Audit anchor refused"


class SignInFailed(Unauthorized):
    """Wrong email, password or code; the detail never says which (nor whether the email exists)."""

    code = "sign-in-failed"
    title = "Sign-in failed"


class SignInThrottled(RateLimited):
    """Too many failed sign-ins for this email or from this address: wait, then try again."""

    code = "sign-in-throttled"
    title = "Too many sign-in attempts"
# --- API hardening (issue 11): request limits, values the database cannot store, races ---


class PayloadTooLarge(ContactGuardError):
    """The request body is larger than this route accepts."""

    code = "payload-too-large"
    title = "Request body too large"
    status = 413


class InvalidValue(ValidationFailed):
    """A value the database cannot store (e.g. a NUL character, a number out of range)."""

    code = "invalid-value"
    title = "Value cannot be stored"


class ConcurrentWrite(Conflict):
    """Another request created the same record at the same moment; retrying succeeds."""

    code = "concurrent-write"
    title = "Concurrent change"


# --- Message checker (issue 9) ---------------------------------------------------------------


class MessageUnparseable(ValidationFailed):
    """The submitted input is not an email message (no header fields, empty, binary)."""

    code = "message-unparseable"
    title = "Not a readable message"


class MessageTooLarge(PayloadTooLarge):
    """A message to check is larger than the checker accepts (25 MB)."""

    code = "message-too-large"
    title = "Message too large"
    status = 413


class UnsupportedMediaType(ContactGuardError):
    """The request body's Content-Type is not one the route takes."""

    code = "unsupported-media-type"
    title = "Unsupported media type"
    status = 415


# --- Verify-the-caller (issue 9) -------------------------------------------------------------


class CallSessionNotFound(NotFound):
    """No call session with this id (for this account)."""

    code = "call-session-not-found"
    title = "Call session not found"


class CallSessionClosed(Conflict):
    """The call session expired, was replaced by a newer one, or was already answered."""

    code = "call-session-closed"
    title = "Call session closed"
class DestinationBlocked(ContactGuardError):
    """The SMS-pumping guard refuses codes to this number (see `reason`, `alternative`).

    Reasons (abuse.BlockReason): its country is not allowed, a non-geographic or costly
    number, its prefix is blocked after many codes that were never entered, or the
    country's daily budget is spent.
    """

    code = "destination-blocked"
    title = "Destination blocked"
    status = 403

    def __init__(self, detail: str, *, reason: str, alternative: str,
                 errors: list[FieldError] | None = None) -> None:
        super().__init__(detail, errors=errors)
        self.reason = reason
        self.alternative = alternative
