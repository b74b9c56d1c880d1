"""Campaign scheduling rules: quiet hours, holidays, working days, deadlines, reminders, spec."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from contactguard.adapters.holidays import HolidayCalendars
from contactguard.domain.campaign_spec import parse_spec
from contactguard.domain.campaigns import (
    DEFAULT_QUIET_HOURS,
    QuietHours,
    WeekendCalendar,
    add_working_days,
    adjusted_deadline,
    deadline_after_notice,
    next_allowed,
    next_reminder,
    notice_working_days,
    plan_group,
    working_days,
)
from contactguard.errors import ValidationFailed

SHANGHAI = ZoneInfo("Asia/Shanghai")
LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
CALENDARS = HolidayCalendars()
PLAIN = WeekendCalendar()


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)


def test_quiet_hours_span_midnight() -> None:
    quiet = DEFAULT_QUIET_HOURS
    assert quiet.contains(time(21, 0)) and quiet.contains(time(3, 0))
    assert not quiet.contains(time(9, 0)) and not quiet.contains(time(20, 59))
    lunch = QuietHours(time(12, 0), time(13, 0))
    assert lunch.contains(time(12, 30)) and not lunch.contains(time(13, 0))


def test_a_send_in_quiet_hours_moves_to_the_next_allowed_local_time() -> None:
    # 23:30 in Shanghai -> 09:00 the next morning, Shanghai time
    assert next_allowed(utc(2027, 3, 1, 15, 30), SHANGHAI, PLAIN, DEFAULT_QUIET_HOURS) == \
        utc(2027, 3, 2, 1, 0)
    # 06:00 in Shanghai -> 09:00 the same day
    assert next_allowed(utc(2027, 3, 1, 22, 0), SHANGHAI, PLAIN, DEFAULT_QUIET_HOURS) == \
        utc(2027, 3, 2, 1, 0)
    # allowed already: unchanged
    assert next_allowed(utc(2027, 3, 1, 3, 0), SHANGHAI, PLAIN, DEFAULT_QUIET_HOURS) == \
        utc(2027, 3, 1, 3, 0)
    # no quiet hours at all
    assert next_allowed(utc(2027, 3, 1, 15, 30), SHANGHAI, PLAIN, None) == utc(2027, 3, 1, 15, 30)


def test_spring_festival_holds_chinese_sends_until_the_first_working_morning() -> None:
    cn = CALENDARS("CN")
    assert all(cn.is_holiday(date(2027, 2, d)) for d in range(6, 11))
    moment = next_allowed(utc(2027, 2, 6, 1, 0), SHANGHAI, cn, DEFAULT_QUIET_HOURS)
    assert moment == utc(2027, 2, 11, 1, 0)  # 09:00 on 11 February in Shanghai
    gb = CALENDARS("GB")
    assert next_allowed(utc(2027, 2, 6, 1, 0), LONDON, gb, DEFAULT_QUIET_HOURS) == \
        utc(2027, 2, 6, 9, 0)


def test_quiet_hours_follow_daylight_saving_time() -> None:
    # New York springs forward on 14 March 2027: 09:00 EDT is 13:00 UTC (EST: 14:00)
    assert next_allowed(utc(2027, 3, 14, 6, 0), NEW_YORK, PLAIN, DEFAULT_QUIET_HOURS) == \
        utc(2027, 3, 14, 13, 0)
    # an end time inside the DST gap (02:30 does not exist that night) moves past the gap
    gap = QuietHours(time(1, 0), time(2, 30))
    assert next_allowed(utc(2027, 3, 14, 6, 30), NEW_YORK, PLAIN, gap) == utc(2027, 3, 14, 7, 30)


def test_working_days_skip_weekends_and_holidays_and_count_substitute_workdays() -> None:
    assert working_days(date(2027, 3, 1), date(2027, 3, 15), PLAIN) == 10
    cn = CALENDARS("CN")
    # 10 weekdays, of which Spring Festival takes Friday 5 and Monday-Wednesday 8-10
    assert working_days(date(2027, 2, 1), date(2027, 2, 15), cn) == 6
    # 2026: Saturday 14 February is a working day in China (Spring Festival swap)
    assert cn.is_working_day(date(2026, 2, 14)) and not cn.is_weekend(date(2026, 2, 14))
    assert add_working_days(date(2027, 3, 1), 10, PLAIN) == date(2027, 3, 15)


def test_deadlines_are_extended_by_the_holidays_of_each_country() -> None:
    cn, gb = CALENDARS("CN"), CALENDARS("GB")
    announce, effective = utc(2027, 2, 6, 1, 0), utc(2027, 3, 8, 10, 0)
    gb_deadline = adjusted_deadline(announce, effective, LONDON, gb)
    assert gb_deadline.at == effective and gb_deadline.holidays_skipped == ()
    cn_deadline = adjusted_deadline(announce, effective, SHANGHAI, cn)
    assert cn_deadline.at > effective
    assert cn_deadline.at.astimezone(SHANGHAI).time() == effective.astimezone(SHANGHAI).time()
    assert date(2027, 2, 8) in cn_deadline.holidays_skipped
    # the Chinese seller gets as many working days as one without holidays
    start = announce.astimezone(SHANGHAI).date()
    assert working_days(start, cn_deadline.at.astimezone(SHANGHAI).date(), cn) >= \
        working_days(start, effective.astimezone(SHANGHAI).date(), PLAIN)
    assert notice_working_days(announce, effective, SHANGHAI, cn) < \
        notice_working_days(announce, effective, LONDON, gb)


def test_nothing_counts_before_the_notice_arrived() -> None:
    planned = utc(2027, 3, 15, 10, 0)
    # a notice sent on time leaves the deadline alone
    assert deadline_after_notice(planned, utc(2027, 3, 1, 10), LONDON, PLAIN, 10) == planned
    # a notice delayed (paused campaign) by a week moves the deadline on
    late = deadline_after_notice(planned, utc(2027, 3, 8, 10), LONDON, PLAIN, 10)
    assert late == utc(2027, 3, 22, 10, 0)


def test_reminders_come_before_the_deadline_at_allowed_times_and_not_too_close() -> None:
    deadline = utc(2027, 3, 29, 10, 0)
    first = next_reminder(deadline, (14, 7, 2, 1), utc(2027, 3, 1, 10), LONDON, PLAIN, None)
    assert first is not None and (first.step, first.at) == (1, utc(2027, 3, 15, 10, 0))
    # the 1-day reminder falls in quiet hours: it moves to 09:00 local, still before 10:00 UTC
    quiet = next_reminder(utc(2027, 3, 29, 8, 0), (1,), utc(2027, 3, 1), LONDON, PLAIN,
                          QuietHours(time(21, 0), time(9, 0)))
    assert quiet is not None and quiet.at == utc(2027, 3, 28, 8, 0)  # 09:00 BST
    # a reminder that would come less than 20 hours after the notice is skipped
    late_notice = utc(2027, 3, 22, 0, 0)
    nxt = next_reminder(deadline, (7, 2, 1), late_notice, LONDON, PLAIN, None)
    assert nxt is not None and nxt.step == 2
    # none after the deadline
    assert next_reminder(deadline, (1,), deadline, LONDON, PLAIN, None) is None


def test_a_group_plan_lists_the_whole_schedule() -> None:
    plan = plan_group(announce_at=utc(2027, 3, 1, 10), effective_at=utc(2027, 3, 29, 10),
                      zone=LONDON, calendar=PLAIN, quiet=None, reminders=(14, 7, 2, 1))
    assert [r.step for r in plan.reminders] == [1, 2, 3, 4]
    assert plan.notice_at == utc(2027, 3, 1, 10) and plan.notice_days == 20


NOW = utc(2027, 2, 1, 0, 0)


def spec_errors(**document: object) -> dict[str, str]:
    base = {"name": "n", "contacts": ["emergency_email"], "channels": ["in_app"],
            "effective_at": "2027-03-01T00:00:00Z"}
    base.update(document)
    with pytest.raises(ValidationFailed) as caught:
        parse_spec({k: v for k, v in base.items() if v is not ...}, now=NOW)
    return {e.field: e.code for e in caught.value.errors}


def test_the_spec_refuses_each_broken_rule_by_field() -> None:
    assert spec_errors(channels=["email"]) == {"channels": "in_app_required"}
    assert spec_errors(channels=["in_app", "fax"]) == {"channels.1": "invalid"}
    assert spec_errors(channels=["in_app", "voice"]) == {"channels.1": "invalid"}
    assert spec_errors(effective_at="2027-03-01T00:00:00") == {"effective_at": "naive"}
    assert spec_errors(effective_at=...) == {"effective_at": "missing"}
    assert spec_errors(announce_at="2027-01-01T00:00:00Z") == {"announce_at": "in_past"}
    assert spec_errors(announce_at="2027-03-02T00:00:00Z") == {"effective_at": "before_announce"}
    assert spec_errors(reminders=[7, 7]) == {"reminders.1": "duplicate"}
    assert spec_errors(reminders=[0]) == {"reminders.0": "invalid"}
    assert spec_errors(quiet_hours={"start": "25:00", "end": "09:00"}) == {"quiet_hours": "invalid"}
    assert spec_errors(throttle_per_second=0) == {"throttle_per_second": "invalid"}
    assert spec_errors(audience={"countries": ["China"]}) == {"audience.countries.0": "invalid"}
    assert spec_errors(audience={"states": ["happy"]}) == {"audience.states.0": "invalid"}
    assert spec_errors(colour="red") == {"colour": "unknown"}


def test_the_spec_accepts_toml_values_and_defaults() -> None:
    spec = parse_spec({"name": " Verify ", "contacts": ["emergency_phone"],
                       "channels": ["sms", "in_app"], "quiet_hours": False,
                       "effective_at": datetime(2027, 3, 1, 9, tzinfo=UTC),
                       "reminders": [1, 14, 7]}, now=NOW)
    assert spec.name == "Verify" and spec.quiet_hours is None
    assert spec.reminders == (14, 7, 1)
    assert [c.value for c in spec.channels] == ["in_app", "sms"]
    default = parse_spec({"name": "n", "contacts": ["emergency_email"], "channels": ["in_app"],
                          "effective_at": "2027-03-01T00:00:00+08:00"}, now=NOW)
    assert default.quiet_hours == DEFAULT_QUIET_HOURS and default.reminders == (14, 7, 2, 1)
    assert default.effective_at - utc(2027, 2, 28, 16) == timedelta(0)


def test_a_campaign_name_with_control_or_bidi_characters_is_refused() -> None:
    """The name reaches every seller's message: same rule as every other shown text."""
    for bad in ("Verify\r\nBcc: x", "Verify \u202egnp.exe", "Verify\x00"):
        with pytest.raises(ValidationFailed) as refused:
            parse_spec({"name": bad, "contacts": ["emergency_email"], "audience": {},
                        "effective_at": "2027-03-08T10:00:00Z", "channels": ["in_app", "email"]},
                       now=datetime(2027, 1, 1, tzinfo=UTC))
        assert [(e.field, e.code) for e in refused.value.errors if e.field == "name"] == [
            ("name", "control_characters")]
