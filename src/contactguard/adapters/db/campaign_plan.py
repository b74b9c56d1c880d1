"""Set-based planning of a campaign range on PostgreSQL (mixed into CampaignRepository).

A planning range is decided in SQL: Python computes what happens to each (country, time zone,
locale, open contacts) group (a few dozen rows: holidays and quiet hours depend only on
those), the database applies it to every account of the range in a handful of INSERT ...
SELECT statements through temporary tables that live until the transaction ends. No row per
account passes through Python.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, text

from contactguard.domain.campaign_spec import Audience
from contactguard.domain.contacts import ContactKind

PLAN_GROUP_COLUMNS = ("country", "time_zone", "locale", "open_mask", "state", "deadline",
                      "notified_at", "next_step", "next_step_at", "send", "template")

_CREATE_PLAN_TEMP = (
    "CREATE TEMPORARY TABLE cg_plan_groups (country varchar(2), time_zone varchar(64), "
    "locale varchar(35), open_mask integer, state varchar(16), deadline timestamptz, "
    "notified_at timestamptz, next_step integer, next_step_at timestamptz, send boolean, "
    "template text) ON COMMIT DROP")

_STAGE_PLAN = text("""
CREATE TEMPORARY TABLE cg_plan ON COMMIT DROP AS
WITH a AS (
  SELECT a.id AS account_id, a.name, a.country, a.time_zone, a.locale, a.security_phrase,
         e.verified_value AS email_verified_value,
         COALESCE(NULLIF(e.verified_value, ''), e.value) AS email_to,
         (e.id IS NOT NULL AND CAST(:want_email AS boolean) AND NOT EXISTS (
            SELECT 1 FROM contact_undeliverable u WHERE u.contact_id = e.id
              AND u.channel = 'email' AND u.value = e.value)) AS email_ok,
         COALESCE(NULLIF(p.verified_value, ''), p.value) AS phone_to,
         (p.id IS NOT NULL AND CAST(:want_sms AS boolean)
          AND COALESCE(CASE WHEN p.verified_value IS NOT NULL THEN p.verified_line_type
                            ELSE p.line_type END = ANY(CAST(:sms_line_types AS varchar[])),
                       false)
          AND NOT EXISTS (
            SELECT 1 FROM contact_undeliverable u WHERE u.contact_id = p.id
              AND u.channel = 'sms' AND u.value = p.value)) AS sms_ok,
         (CASE WHEN CAST(:need_email AS boolean) AND NOT COALESCE(
                 e.value IS NOT NULL AND e.verified_value = e.value
                 AND e.verified_at > CAST(:fresh_after AS timestamptz), false)
               THEN 1 ELSE 0 END
          + CASE WHEN CAST(:need_phone AS boolean) AND NOT COALESCE(
                 p.value IS NOT NULL AND p.verified_value = p.value
                 AND p.verified_at > CAST(:fresh_after AS timestamptz), false)
               THEN 2 ELSE 0 END) AS open_mask,
         e.verified_at IS NULL AS email_never_verified,
         p.verified_at IS NULL AS phone_never_verified,
         (CAST(:references AS varchar[]))[a.id - CAST(:first_id AS bigint) + 1] AS reference
  FROM accounts a
  LEFT JOIN contacts e ON e.account_id = a.id AND e.kind = 'emergency_email'
  LEFT JOIN contacts p ON p.account_id = a.id AND p.kind = 'emergency_phone'
  WHERE a.id BETWEEN CAST(:first_id AS bigint) AND CAST(:last_id AS bigint) {audience}
)
SELECT a.*, g.state, g.deadline, g.notified_at, g.next_step, g.next_step_at, g.send,
       g.template,
       ((a.open_mask & 1 = 1 AND a.email_never_verified)
        OR (a.open_mask & 2 = 2 AND a.phone_never_verified)) AS recheck,
       false AS written
FROM a JOIN cg_plan_groups g ON g.country = a.country AND g.time_zone = a.time_zone
  AND g.locale = a.locale AND g.open_mask = a.open_mask
""")

_STAGED_TARGETS = text(
    "INSERT INTO campaign_targets (campaign_id, account_id, country, state, deadline, "
    "notified_at, next_step, next_step_at) SELECT :campaign_id, account_id, country, state, "
    "deadline, notified_at, next_step, next_step_at FROM cg_plan")

_STAGED_STEPS = text("""
WITH s AS (
  INSERT INTO campaign_steps (campaign_id, account_id, step, kind, reference, channels,
                              created_at)
  SELECT :campaign_id, account_id, :step, :kind, reference,
         concat_ws(',', 'in_app', CASE WHEN email_ok THEN 'email' END,
                   CASE WHEN sms_ok THEN 'sms' END), :now
  FROM cg_plan WHERE send
  ON CONFLICT DO NOTHING RETURNING account_id)
UPDATE cg_plan SET written = true FROM s WHERE cg_plan.account_id = s.account_id
""")

_STAGED_SECRETS = text(
    "SELECT reference, security_phrase FROM cg_plan WHERE written AND email_ok "
    "AND security_phrase IS NOT NULL AND email_to = email_verified_value")

_STAGED_RECHECK = text(
    "UPDATE account_compliance c SET recheck_at = :now FROM cg_plan p "
    "WHERE c.account_id = p.account_id AND p.written AND p.recheck "
    "AND (c.recheck_at IS NULL OR c.recheck_at > :now)")


class PlanRepositoryMixin:
    """Set-based planning of one range (PostgreSQL only); see the comment above."""

    _conn: Connection

    def stage_plan(self, audience: Audience, *, first_id: int, last_id: int,
                   groups: Sequence[Mapping[str, Any]], references: Sequence[str],
                   contacts: Sequence[ContactKind], email: bool, sms: bool,
                   sms_line_types: Sequence[str], fresh_after: datetime) -> int:
        """Decide every account of the audience in [first_id, last_id] from ``groups`` (one
        row per country, time zone, locale and ``open_mask``, with the target's columns, and
        whether to send with the message parameters but the name); ``references[i]`` is the
        reference of account ``first_id + i``. Returns the accounts staged."""
        conn = self._conn
        conn.exec_driver_sql(_CREATE_PLAN_TEMP)
        if groups:
            conn.execute(text(
                "INSERT INTO cg_plan_groups VALUES (:country, :time_zone, :locale, :open_mask, "
                ":state, :deadline, :notified_at, :next_step, :next_step_at, :send, "
                ":template)"), [dict(g) for g in groups])
        audience_sql, audience_params = _audience_sql(audience)
        conn.execute(text(_STAGE_PLAN.text.format(audience=audience_sql)), {
            "want_email": email, "want_sms": sms, "sms_line_types": list(sms_line_types),
            "need_email": ContactKind.EMERGENCY_EMAIL in contacts,
            "need_phone": ContactKind.EMERGENCY_PHONE in contacts,
            "fresh_after": fresh_after, "references": list(references),
            "first_id": first_id, "last_id": last_id, **audience_params})
        return int(conn.exec_driver_sql("SELECT count(*) FROM cg_plan").scalar_one())

    def staged_groups(self, audience: Audience, *, first_id: int,
                      last_id: int) -> list[tuple[str, str, str]]:
        """The (country, time zone, locale) of the audience's accounts in the range."""
        audience_sql, params = _audience_sql(audience)
        return [(r.country, r.time_zone, r.locale) for r in self._conn.execute(text(
            "SELECT DISTINCT a.country, a.time_zone, a.locale FROM accounts a "  # noqa: S608
            f"WHERE a.id BETWEEN :first_id AND :last_id {audience_sql}"),  # fixed fragments
            {"first_id": first_id, "last_id": last_id, **params})]

    def add_staged_targets(self, campaign_id: int) -> int:
        return int(self._conn.execute(_STAGED_TARGETS, {"campaign_id": campaign_id}).rowcount)

    def add_staged_steps(self, campaign_id: int, *, step: int, kind: str,
                         now: datetime) -> int:
        """The staged notices (steps), skipping any (campaign, account, step) that exists;
        only the accounts whose step was written now get their messages. Returns how many."""
        return int(self._conn.execute(_STAGED_STEPS, {
            "campaign_id": campaign_id, "step": step, "kind": kind, "now": now}).rowcount)

    def staged_phrases(self) -> list[tuple[str, str]]:
        """(reference, security phrase) of written notices emailed to a verified address."""
        return [(r.reference, r.security_phrase) for r in self._conn.execute(_STAGED_SECRETS)]

    def mark_staged_recheck(self, now: datetime) -> int:
        return int(self._conn.execute(_STAGED_RECHECK, {"now": now}).rowcount)


def _audience_sql(audience: Audience) -> tuple[str, dict[str, Any]]:
    """The audience as SQL on ``accounts a`` (PostgreSQL arrays) and its parameters."""
    where, params = [], {}
    if audience.accounts:
        where.append("a.external_id = ANY(CAST(:aud_accounts AS varchar[]))")
        params["aud_accounts"] = list(audience.accounts)
    if audience.countries:
        where.append("a.country = ANY(CAST(:aud_countries AS varchar[]))")
        params["aud_countries"] = list(audience.countries)
    if audience.states:
        where.append("a.id IN (SELECT account_id FROM account_compliance "
                     "WHERE state = ANY(CAST(:aud_states AS varchar[])))")
        params["aud_states"] = [s.value for s in audience.states]
    return "".join(f" AND {w}" for w in where), params
