"""What the operator console reads and does, each use case checked against the operator's role.

Read models (dashboard, account search, an account's file) and the console's entries into
other services (policy, webhooks, sessions), so that a support agent is refused here, not
only hidden from by the pages.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from contactguard import normalize
from contactguard.domain.accounts import Account
from contactguard.domain.audit import AuditEntry
from contactguard.domain.campaigns import CampaignStatus
from contactguard.domain.challenges import ChallengeStatus
from contactguard.domain.compliance import ComplianceState, Policy, PolicyReasons
from contactguard.domain.contacts import Channel, ContactKind, mask_contact
from contactguard.domain.operators import Operator, Permission
from contactguard.domain.policy import protection_to_document
from contactguard.domain.sessions import Realm, WebSessionRecord
from contactguard.domain.webhooks import WebhookEndpoint
from contactguard.errors import NotFound, ValidationFailed
from contactguard.services import (
    accounts,
    audit,
    campaigns,
    compliance,
    message_center,
    web_sessions,
    webhooks,
)
from contactguard.services import policy as policy_service
from contactguard.services.deps import Deps
from contactguard.services.lookup import require_account
from contactguard.services.operators import authorize

TREND_DAYS = 30
SEARCH_LIMIT = 50
_MAX_QUERY = 254


# --- dashboard -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class DayFigures:
    """The figures of one day (the trend's points)."""

    day: date
    accounts: int
    states: dict[str, int]
    email_verified: int
    phone_verified: int

    @property
    def met(self) -> int:
        """Accounts whose requirements are met (compliant or due soon)."""
        return self.states.get("compliant", 0) + self.states.get("due_soon", 0)

    def share(self, count: int) -> float | None:
        return count / self.accounts if self.accounts else None


@dataclass(frozen=True, slots=True)
class Dashboard:
    today: DayFigures
    #: One entry per day, oldest first, ending today; None where no snapshot was taken.
    trend: list[DayFigures | None]


def dashboard(deps: Deps, *, by: Operator) -> Dashboard:
    """Accounts by compliance state, shares verified now, and the last 30 days. Raises Forbidden."""
    authorize(deps, by, Permission.VIEW_DASHBOARD)
    today = _live_figures(deps)
    first = today.day - timedelta(days=TREND_DAYS - 1)
    with deps.reader() as uow:
        rows = uow.console.days(first.isoformat(), today.day.isoformat())
    by_day = {row.day: _figures(row) for row in rows}
    trend: list[DayFigures | None] = [by_day.get((first + timedelta(days=i)).isoformat())
                                      for i in range(TREND_DAYS - 1)]
    trend.append(today)
    return Dashboard(today, trend)


def record_daily_figures(deps: Deps) -> DayFigures:
    """The periodic job: write today's (UTC) figures; past days stay as they were recorded."""
    figures = _live_figures(deps)
    with deps.uow() as uow:
        uow.console.save_day(figures.day.isoformat(), {
            "accounts": figures.accounts, **{s.value: figures.states.get(s.value, 0)
                                             for s in ComplianceState},
            "email_verified": figures.email_verified,
            "phone_verified": figures.phone_verified}, deps.clock.now())
        uow.commit()
    return figures


def _live_figures(deps: Deps) -> DayFigures:
    states = compliance.state_counts(deps)
    with deps.reader() as uow:
        total: int = uow.console.account_count()
        verified: dict[ContactKind, int] = uow.console.verified_counts()
    return DayFigures(deps.clock.now().astimezone(UTC).date(), total, states,
                      verified[ContactKind.EMERGENCY_EMAIL], verified[ContactKind.EMERGENCY_PHONE])


def _figures(row: Any) -> DayFigures:
    return DayFigures(date.fromisoformat(row.day), int(row.accounts),
                      {s.value: int(getattr(row, s.value)) for s in ComplianceState},
                      int(row.email_verified), int(row.phone_verified))


# --- account search and the account's file ---------------------------------------------------


@dataclass(frozen=True, slots=True)
class MaskedContact:
    kind: ContactKind
    masked: str
    verified: bool


@dataclass(frozen=True, slots=True)
class AccountHit:
    account: Account
    state: str | None
    contacts: list[MaskedContact]


def search_accounts(deps: Deps, query: str, *, by: Operator,
                    limit: int = SEARCH_LIMIT) -> list[AccountHit]:
    """Accounts by exact external id, by email or phone (compared in normalized form, current
    or verified value), or by a part of the name. Contacts come back masked.

    Raises Forbidden, ValidationFailed (empty or too long a query).
    """
    authorize(deps, by, Permission.READ_ACCOUNTS)
    text = " ".join(query.split())
    if not text or len(text) > _MAX_QUERY:
        raise ValidationFailed("enter an external id, a name, an email or a phone number",
                               errors=[])
    values = contact_candidates(text)
    with deps.reader() as uow:
        found: list[Account] = uow.console.search(
            external_id=text, name=text if len(text) >= 2 else None,
            contact_values=values, limit=limit)
        contacts = uow.contacts.for_accounts([a.id for a in found])
        hits = []
        for account in found:
            row = uow.compliance.get(account.id)
            hits.append(AccountHit(account, row.state if row else None, [
                MaskedContact(c.kind, mask_contact(c.kind, c.value), c.is_verified)
                for c in sorted(contacts.get(account.id, []), key=lambda c: c.kind.value)]))
    return hits


def contact_candidates(text: str) -> list[str]:
    """The normalized forms a typed email or phone number is stored under."""
    if "@" in text:
        local, _, domain = text.rpartition("@")
        found = {f"{local}@{domain.lower()}", text.lower()}
        with contextlib.suppress(ValidationFailed):
            found.add(normalize.normalize_email(text, field="q"))
        return sorted(found)
    stripped = "".join(ch for ch in text if ch not in " -().")
    if stripped.startswith("00"):
        stripped = "+" + stripped[2:]
    digits = stripped.lstrip("+")
    if stripped.startswith("+") and digits.isdigit() and 6 <= len(digits) <= 15:
        return [f"+{digits}"]
    return []


def accounts_in_state(deps: Deps, state: ComplianceState, *, by: Operator,
                      cursor: str | None = None,
                      limit: int = SEARCH_LIMIT) -> compliance.ComplianceListing:
    """Accounts in a compliance state, earliest deadline first. Raises Forbidden,
    ValidationFailed (bad cursor)."""
    authorize(deps, by, Permission.READ_ACCOUNTS)
    return compliance.list_by_state(deps, state, limit=limit, cursor=cursor)


@dataclass(frozen=True, slots=True)
class VerificationRow:
    id: str
    contact_kind: ContactKind
    channel: Channel
    masked_to: str
    status: ChallengeStatus
    attempts: int
    max_attempts: int
    sends: int
    created_at: datetime
    approved_at: datetime | None


@dataclass(frozen=True, slots=True)
class AccountFile:
    """Everything support needs to answer "do I need to do this, by when, and what happens if
    I don't?" from facts."""

    view: accounts.AccountView
    state: compliance.AccountCompliance
    policy: Policy
    reasons: PolicyReasons  # in the operator's language
    seller_reasons: PolicyReasons  # in the seller's language
    verifications: list[VerificationRow]
    notices: list[message_center.Notice]
    audit: list[AuditEntry]
    seller_sessions: list[WebSessionRecord]
    #: Campaign requirements announced to the seller and not met yet (deadline, reference).
    banners: list[campaigns.Banner] = field(default_factory=list)


def account_file(deps: Deps, external_id: str, *, by: Operator, locale: str,
                 audit_limit: int = 50) -> AccountFile:
    """An account's contacts, eligibility with reasons and deadlines, verifications, messages
    (with reference codes) and audit trail. The look is audited. Raises Forbidden,
    AccountNotFound."""
    operator = authorize(deps, by, Permission.READ_ACCOUNTS)
    view = accounts.get_account(deps, external_id)
    state = compliance.get_compliance(deps, external_id)
    now = deps.clock.now()
    with deps.uow() as uow:
        account = require_account(uow, external_id)
        challenges = uow.console.challenges_for(account.id, limit=50)
        audit.record(deps, uow, operator.actor, "account.viewed", f"account:{external_id}")
        uow.commit()
    rows = [VerificationRow(c.id, c.contact_kind, c.channel,
                            mask_contact(c.contact_kind, c.destination), c.status_at(now),
                            c.attempts, c.max_attempts, c.send_count, c.created_at, c.approved_at)
            for c in challenges]
    policy = state.policy
    return AccountFile(
        view=view, state=state, policy=policy, reasons=policy.reasons_for(locale),
        seller_reasons=policy.reasons_for(view.account.locale), verifications=rows,
        notices=[n for n in message_center.list_notices(deps, external_id, locale=locale)
                 if set(n.channels) != {Channel.WEBHOOK.value}],  # events, not messages
        audit=audit.list_entries(deps, limit=audit_limit, subject=f"account:{external_id}"),
        seller_sessions=web_sessions.list_sessions(deps, realm=Realm.SELLER, subject=external_id),
        banners=campaigns.account_banners(deps, external_id, locale=locale))


# --- policy, webhooks, sessions (admin) ------------------------------------------------------


def read_policy(deps: Deps, *, by: Operator) -> Policy:
    """Raises Forbidden."""
    authorize(deps, by, Permission.READ_POLICY)
    return deps.policy


def set_policy(deps: Deps, document: dict[str, Any], *, by: Operator) -> Policy:
    """Raises Forbidden, ValidationFailed naming each bad setting."""
    operator = authorize(deps, by, Permission.EDIT_POLICY)
    # The console's form has no protection settings: keep those in force (issue 11).
    document = {"protection": protection_to_document(deps.policy.protection), **document}
    return policy_service.set_policy(deps, document, actor=operator.actor)


def list_webhooks(deps: Deps, *, by: Operator) -> list[WebhookEndpoint]:
    """Raises Forbidden."""
    authorize(deps, by, Permission.MANAGE_WEBHOOKS)
    return webhooks.list_endpoints(deps)


def webhook_deliveries(deps: Deps, endpoint_id: int, *, by: Operator, limit: int = 50,
                       before: int | None = None) -> tuple[WebhookEndpoint, list[webhooks.Delivery]]:
    """Raises Forbidden, NotFound."""
    authorize(deps, by, Permission.MANAGE_WEBHOOKS)
    endpoint = webhooks.get_endpoint(deps, endpoint_id)
    return endpoint, webhooks.list_deliveries(deps, endpoint_id, limit=limit, before_id=before)


def replay_webhook(deps: Deps, delivery_id: int, *, by: Operator) -> webhooks.Delivery:
    """Raises Forbidden, NotFound, Conflict."""
    operator = authorize(deps, by, Permission.MANAGE_WEBHOOKS)
    return webhooks.replay_delivery(deps, delivery_id, actor=operator.actor)


def operator_sessions(deps: Deps, *, by: Operator) -> list[WebSessionRecord]:
    """Open console sessions, newest first. Raises Forbidden."""
    authorize(deps, by, Permission.MANAGE_SESSIONS)
    return web_sessions.list_sessions(deps, realm=Realm.OPERATOR, limit=500)


def revoke_operator_session(deps: Deps, session_id: int, *, by: Operator) -> WebSessionRecord:
    """End one console session. Raises Forbidden, NotFound (also for a seller session id)."""
    operator = authorize(deps, by, Permission.MANAGE_SESSIONS)
    with deps.reader() as uow:
        record: WebSessionRecord | None = uow.web_sessions.get(session_id)
    if record is None or record.realm != Realm.OPERATOR.value:
        raise NotFound(f"no console session {session_id}")
    return web_sessions.revoke_session(deps, session_id, reason=f"revoked by {operator.email}",
                                       actor=operator.actor)


def revoke_operator_sessions(deps: Deps, operator_id: int, *, by: Operator) -> int:
    """End every session of one operator. Raises Forbidden."""
    operator = authorize(deps, by, Permission.MANAGE_SESSIONS)
    return web_sessions.revoke_sessions(deps, realm=Realm.OPERATOR, subject=str(operator_id),
                                        reason=f"revoked by {operator.email}",
                                        actor=operator.actor)


def sign_seller_out(deps: Deps, external_id: str, *, by: Operator) -> int:
    """End every Seller Center session of an account. Raises Forbidden, AccountNotFound."""
    operator = authorize(deps, by, Permission.MANAGE_SESSIONS)
    return web_sessions.revoke_account_sessions(deps, external_id, actor=operator.actor)


# --- campaigns (support reads them; admins create, launch, pause, resume, cancel) ----------

#: The console's campaign actions and the service behind each.
CAMPAIGN_ACTIONS: dict[str, campaigns.Action] = {
    "launch": campaigns.launch_campaign, "pause": campaigns.pause_campaign,
    "resume": campaigns.resume_campaign, "cancel": campaigns.cancel_campaign}


def list_campaigns(deps: Deps, *, by: Operator, before: int | None = None,
                   status: CampaignStatus | None = None,
                   limit: int = SEARCH_LIMIT) -> campaigns.CampaignList:
    """Campaigns newest first with their progress. Raises Forbidden."""
    authorize(deps, by, Permission.READ_CAMPAIGNS)
    return campaigns.list_campaigns(deps, limit=limit, before=before, status=status)


def get_campaign(deps: Deps, campaign_id: int, *, by: Operator) -> campaigns.CampaignView:
    """A campaign with its progress. Raises Forbidden, CampaignNotFound."""
    authorize(deps, by, Permission.READ_CAMPAIGNS)
    return campaigns.get_campaign(deps, campaign_id)


@dataclass(frozen=True, slots=True)
class CampaignDetail:
    """One page view of a campaign: each figure computed once (the funnel takes seconds for
    a million accounts)."""

    view: campaigns.CampaignView
    #: Per country: first send, deadline, holidays skipped; sample messages.
    preview: campaigns.Preview
    #: Drafts: what launching now would be told (notice too short by now, unknown accounts).
    check: campaigns.DraftCheck | None
    #: Launched campaigns: targeted, notified, seen, started, verified.
    funnel: campaigns.Funnel | None


def campaign_detail(deps: Deps, campaign_id: int, *, by: Operator) -> CampaignDetail:
    """Progress, preview, and the funnel (launched) or the launch check (drafts).

    Raises Forbidden, CampaignNotFound.
    """
    authorize(deps, by, Permission.READ_CAMPAIGNS)
    view = campaigns.get_campaign(deps, campaign_id)
    if view.status is CampaignStatus.DRAFT:
        check = campaigns.check_campaign(deps, launch_document(view, deps.clock.now()))
        preview = check.preview or campaigns.preview_campaign(deps, campaign_id)
        return CampaignDetail(view, preview, check, None)
    return CampaignDetail(view, campaigns.preview_campaign(deps, campaign_id), None,
                          campaigns.campaign_funnel(deps, campaign_id))


def launch_document(view: campaigns.CampaignView, now: datetime) -> dict[str, Any]:
    """A stored draft as the document launching it now amounts to (an announcement time
    already past becomes "at launch", as :func:`campaigns.launch_campaign` does)."""
    spec = view.spec
    document: dict[str, Any] = {"name": spec.name, **spec.settings(),
                                "effective_at": spec.effective_at.isoformat()}
    if spec.announce_at is not None and spec.announce_at > now:
        document["announce_at"] = spec.announce_at.isoformat()
    return document


def campaign_funnel_csv(deps: Deps, campaign_id: int, *, by: Operator) -> str:
    """The funnel as CSV. Raises Forbidden, CampaignNotFound."""
    authorize(deps, by, Permission.READ_CAMPAIGNS)
    return campaigns.funnel_csv(deps, campaign_id)


def check_campaign(deps: Deps, document: dict[str, Any], *,
                   by: Operator) -> campaigns.DraftCheck:
    """The create form's live preview: every field error and the preview. Raises Forbidden."""
    authorize(deps, by, Permission.MANAGE_CAMPAIGNS)
    return campaigns.check_campaign(deps, document)


def create_campaign(deps: Deps, document: dict[str, Any], *,
                    by: Operator) -> campaigns.CampaignView:
    """A draft campaign, audited as the operator. Raises Forbidden, ValidationFailed."""
    operator = authorize(deps, by, Permission.MANAGE_CAMPAIGNS)
    return campaigns.create_campaign(deps, document, actor=operator.actor)


def change_campaign(deps: Deps, campaign_id: int, action: str, *,
                    by: Operator) -> campaigns.CampaignView:
    """Launch, pause, resume or cancel, audited as the operator.

    Raises Forbidden, NotFound (unknown action), CampaignNotFound, Conflict (the status does
    not allow it), ValidationFailed (launch: notice too short by now, empty audience).
    """
    operator = authorize(deps, by, Permission.MANAGE_CAMPAIGNS)
    act = CAMPAIGN_ACTIONS.get(action)
    if act is None:
        raise NotFound(f"no campaign action '{action[:20]}'")
    return act(deps, campaign_id, actor=operator.actor)
