"""Verify-the-caller: a support agent announces a call, the seller sees who calls and the code
the caller must say, and confirms or reports the call.

Called by the API (``/v1/call_sessions``), the console's account page and the Seller Center
alike. Every start and every answer is audited (the agent's operator or API key, the seller's
session); the code never appears in the audit log nor in logs.
"""

from __future__ import annotations

from dataclasses import dataclass

from contactguard import normalize
from contactguard.domain.audit import Actor, ActorKind
from contactguard.domain.call_sessions import (
    LIFETIME,
    MAX_AGENT_NAME,
    CallAnswer,
    CallSession,
    CallStatus,
    ReportReason,
    first_name,
    is_call_id,
    new_code,
    new_id,
)
from contactguard.domain.operators import Operator, Permission
from contactguard.errors import (
    CallSessionClosed,
    CallSessionNotFound,
    FieldError,
    ValidationFailed,
)
from contactguard.services import audit
from contactguard.services.deps import Deps
from contactguard.services.lookup import require_account
from contactguard.services.operators import authorize


@dataclass(frozen=True, slots=True)
class CallView:
    """A session as its readers see it: the status now (expired once past its expiry)."""

    session: CallSession
    status: CallStatus

    @property
    def id(self) -> str:
        return self.session.id


def _view(deps: Deps, session: CallSession) -> CallView:
    return CallView(session, session.status_at(deps.clock.now()))


def check_agent_name(value: str) -> str:
    """The agent's name as given (trimmed). Raises ValidationFailed: empty, too long, or with
    control or invisible formatting characters (it is shown on the seller's page)."""
    normalize.check_text(value.strip(), field="agent_name")
    name = " ".join(value.split())
    if not name:
        raise ValidationFailed("agent_name is empty", errors=[FieldError(
            "agent_name", "give the name the agent introduces themselves with", "required")])
    if len(name) > MAX_AGENT_NAME:
        raise ValidationFailed("agent_name is too long", errors=[FieldError(
            "agent_name", f"at most {MAX_AGENT_NAME} characters", "too_long",
            params={"max": str(MAX_AGENT_NAME)})])
    return name


def start_call_session(deps: Deps, account: str, agent_name: str, *, actor: Actor) -> CallView:
    """Open a call session for ``account`` (an external id): a new 4-digit code, valid for
    10 minutes; an open session of the account is replaced. Audited as ``actor``.

    Raises AccountNotFound, ValidationFailed (agent_name), ConcurrentWrite (another start for
    the same account at the same moment).
    """
    name = check_agent_name(agent_name)
    now = deps.clock.now()
    session_id = new_id()
    with deps.uow() as uow:
        found = require_account(uow, account)
        replaced = uow.call_sessions.close_active(found.id, now)
        uow.call_sessions.add(session_id=session_id, account_id=found.id, agent_name=name,
                              code=new_code(), started_by=_started_by(actor), now=now,
                              expires_at=now + LIFETIME)
        subject = f"account:{found.external_id}"
        for old in replaced:
            audit.record(deps, uow, actor, "call_session.replaced", subject,
                         before={"call_session": old, "status": CallStatus.ACTIVE.value},
                         after={"call_session": old, "status": CallStatus.REPLACED.value,
                                "replaced_by": session_id})
        audit.record(deps, uow, actor, "call_session.started", subject, after={
            "call_session": session_id, "agent": first_name(name),
            "expires_at": (now + LIFETIME).isoformat()})
        uow.commit()
        created: CallSession = uow.call_sessions.get(session_id)
    return _view(deps, created)


def start_call_for_operator(deps: Deps, account: str, agent_name: str, *,
                            by: Operator) -> CallView:
    """The console's start: the operator's role must allow it. Raises Forbidden and as
    :func:`start_call_session`."""
    operator = authorize(deps, by, Permission.VERIFY_CALLERS)
    return start_call_session(deps, account, agent_name, actor=operator.actor)


def get_call_session(deps: Deps, session_id: str) -> CallView:
    """Raises CallSessionNotFound."""
    if not is_call_id(session_id):
        raise CallSessionNotFound(f"no call session '{session_id[:60]}'")
    with deps.reader() as uow:
        found: CallSession | None = uow.call_sessions.get(session_id)
    if found is None:
        raise CallSessionNotFound(f"no call session '{session_id}'")
    return _view(deps, found)


def latest_call(deps: Deps, account: str) -> CallView | None:
    """The account's newest call session (the agent's view). Raises AccountNotFound."""
    with deps.reader() as uow:
        found = require_account(uow, account)
        latest: CallSession | None = uow.call_sessions.latest(found.id)
    return _view(deps, latest) if latest is not None else None


def seller_call(deps: Deps, account: str) -> CallView | None:
    """What the seller's pages show: the open session, or one answered in the last two
    minutes (so the seller sees that the answer was taken); else None."""
    view = latest_call(deps, account)
    if view is None or not view.session.shown_to_seller(deps.clock.now()):
        return None
    return view


def answer_call(deps: Deps, account: str, session_id: str, answer: CallAnswer, *,
                reason: ReportReason | None = None, actor: Actor) -> CallView:
    """The seller's answer: the caller said the code (``confirm``) or the call is reported
    (``report``, with a reason). Audited as ``actor``.

    Raises CallSessionNotFound (unknown, or another account's session: it is not shown to
    this seller) and CallSessionClosed (expired, replaced or already answered).
    """
    reason = (reason or ReportReason.WRONG_CODE) if answer is CallAnswer.REPORT else None
    status = CallStatus.CONFIRMED if answer is CallAnswer.CONFIRM else CallStatus.REPORTED
    now = deps.clock.now()
    with deps.uow() as uow:
        found = require_account(uow, account)
        session: CallSession | None = (uow.call_sessions.get(session_id)
                                       if is_call_id(session_id) else None)
        if session is None or session.account_id != found.id:
            raise CallSessionNotFound(f"no call session '{session_id[:60]}' for this account")
        if not uow.call_sessions.answer(session_id, found.id, status=status, reason=reason,
                                        now=now):
            raise CallSessionClosed(
                f"the call session is {session.status_at(now).value}; it can no longer be "
                "confirmed or reported")
        after: dict[str, str] = {"call_session": session_id, "status": status.value}
        if reason is not None:
            after["reason"] = reason.value
        audit.record(deps, uow, actor, f"call_session.{status.value}",
                     f"account:{found.external_id}",
                     before={"call_session": session_id, "status": CallStatus.ACTIVE.value},
                     after=after)
        uow.commit()
        answered: CallSession = uow.call_sessions.get(session_id)
    return _view(deps, answered)


def _started_by(actor: Actor) -> str:
    if actor.kind in (ActorKind.OPERATOR, ActorKind.API_KEY):
        return f"{actor.kind.value}:{actor.id}"[:64]
    return actor.kind.value
