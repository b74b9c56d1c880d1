"""Campaign scheduling rules: quiet hours, public holidays, working days, deadlines, reminders.

Pure functions of their inputs (no clock, no I/O): the holiday calendar of a country is
passed in as a :class:`HolidayCalendar` (the `holidays` package behind an adapter in
production, :class:`WeekendCalendar` in unit tests and for countries without a calendar).
Dates are local to the seller: every function takes the seller's time zone.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from enum import StrEnum
from typing import Protocol


class CampaignStatus(StrEnum):
    DRAFT = "draft"  # created, nothing sent; preview it, then launch
    RUNNING = "running"  # launched: planning, sending notices and reminders
    PAUSED = "paused"  # nothing more is sent until resumed (queued mail is held)
    CANCELED = "canceled"  # stopped for good; unsent messages are dropped, deadlines lifted
    FINISHED = "finished"  # every step was sent (or had no reason to be) and delivered


#: Which status each action may start from, and where it leads.
TRANSITIONS: dict[str, tuple[frozenset[CampaignStatus], CampaignStatus]] = {
    "launch": (frozenset({CampaignStatus.DRAFT}), CampaignStatus.RUNNING),
    "pause": (frozenset({CampaignStatus.RUNNING}), CampaignStatus.PAUSED),
    "resume": (frozenset({CampaignStatus.PAUSED}), CampaignStatus.RUNNING),
    "cancel": (frozenset({CampaignStatus.DRAFT, CampaignStatus.RUNNING, CampaignStatus.PAUSED}),
               CampaignStatus.CANCELED),
}


class TargetState(StrEnum):
    """Where one targeted account is in its campaign."""

    SCHEDULED = "scheduled"  # its notice has not been sent yet (quiet hours, holiday, throttle)
    NOTIFIED = "notified"  # notice sent; reminders follow until it is compliant
    SKIPPED = "skipped"  # already compliant when its notice was due: nothing was sent
    COMPLETED = "completed"  # compliant, or no reminder left before the deadline
    CANCELED = "canceled"  # the campaign was canceled before this account was done


NOTICE_STEP = 0  # step 0 is the notice; step k >= 1 is the k-th reminder in the list


class HolidayCalendar(Protocol):
    """Public holidays and the working week of one country."""

    def is_holiday(self, day: date) -> bool: ...

    def is_working_day(self, day: date) -> bool:
        """Not a weekend (unless a substitute working day) and not a public holiday."""
        ...

    def is_weekend(self, day: date) -> bool: ...


@dataclass(frozen=True, slots=True)
class WeekendCalendar:
    """A calendar with weekends and the given holidays only (tests; countries we have no data for)."""

    holidays: frozenset[date] = frozenset()
    weekend: frozenset[int] = frozenset({5, 6})

    def is_holiday(self, day: date) -> bool:
        return day in self.holidays

    def is_weekend(self, day: date) -> bool:
        return day.weekday() in self.weekend

    def is_working_day(self, day: date) -> bool:
        return not self.is_weekend(day) and not self.is_holiday(day)


@dataclass(frozen=True, slots=True)
class QuietHours:
    """Local times at which nothing is sent; ``start`` > ``end`` spans midnight (21:00-09:00)."""

    start: time
    end: time

    def contains(self, moment: time) -> bool:
        if self.start <= self.end:
            return self.start <= moment < self.end
        return moment >= self.start or moment < self.end

    def as_dict(self) -> dict[str, str]:
        return {"start": self.start.strftime("%H:%M"), "end": self.end.strftime("%H:%M")}


DEFAULT_QUIET_HOURS = QuietHours(time(21, 0), time(9, 0))
DEFAULT_REMINDERS: tuple[int, ...] = (14, 7, 2, 1)
#: A reminder closer than this to the previous message of the same account is skipped.
MIN_REMINDER_GAP = timedelta(hours=20)
_MAX_DAYS_SEARCHED = 370


def local(moment: datetime, zone: tzinfo) -> datetime:
    return moment.astimezone(zone)


def _at_local(day: date, clock_time: time, zone: tzinfo) -> datetime:
    """The UTC instant of ``day`` at ``clock_time`` in ``zone`` (a DST gap moves it forward)."""
    naive = datetime.combine(day, clock_time)
    aware = naive.replace(tzinfo=zone)
    round_trip = aware.astimezone(UTC).astimezone(zone).replace(tzinfo=None)
    if round_trip != naive:  # inside a spring-forward gap: the first valid moment after it
        aware = (naive + timedelta(hours=1)).replace(tzinfo=zone)
    return aware.astimezone(UTC)


def next_allowed(moment: datetime, zone: tzinfo, calendar: HolidayCalendar,
                 quiet: QuietHours | None) -> datetime:
    """The first instant at or after ``moment`` that is neither a public holiday of the
    seller's country nor inside quiet hours, in the seller's time zone."""
    current = moment.astimezone(UTC)
    for _ in range(_MAX_DAYS_SEARCHED * 2):
        here = current.astimezone(zone)
        if calendar.is_holiday(here.date()):
            start_of_next = here.date() + timedelta(days=1)
            current = _at_local(start_of_next, time(0, 0), zone)
            continue
        if quiet is not None and quiet.contains(here.time().replace(tzinfo=None)):
            end_day = here.date() if here.time() < quiet.end else here.date() + timedelta(days=1)
            current = max(_at_local(end_day, quiet.end, zone), current + timedelta(seconds=1))
            continue
        return current
    raise ValueError("no allowed sending time within a year (every day is a holiday?)")


def working_days(start: date, end: date, calendar: HolidayCalendar) -> int:
    """Working days in ``[start, end)``: the announcement day counts, the deadline day not."""
    count, day = 0, start
    while day < end:
        count += calendar.is_working_day(day)
        day += timedelta(days=1)
    return count


def weekdays(start: date, end: date, calendar: HolidayCalendar) -> int:
    """Days in ``[start, end)`` that are not weekend days (holidays ignored)."""
    count, day = 0, start
    while day < end:
        count += not calendar.is_weekend(day)
        day += timedelta(days=1)
    return count


def holidays_between(start: date, end: date, calendar: HolidayCalendar) -> list[date]:
    """Public holidays in ``[start, end)``."""
    days, day = [], start
    while day < end:
        if calendar.is_holiday(day):
            days.append(day)
        day += timedelta(days=1)
    return days


def add_working_days(start: date, count: int, calendar: HolidayCalendar) -> date:
    """The first working day by which ``[start, day)`` holds ``count`` working days."""
    day, seen = start, 0
    for _ in range(_MAX_DAYS_SEARCHED * 3):
        if seen >= count and calendar.is_working_day(day):
            return day
        seen += calendar.is_working_day(day)
        day += timedelta(days=1)
    raise ValueError("not enough working days within three years")


@dataclass(frozen=True, slots=True)
class Deadline:
    """An account's deadline: ``effective_at`` moved on by the public holidays in between."""

    at: datetime
    holidays_skipped: tuple[date, ...] = ()

    @property
    def extended(self) -> bool:
        return bool(self.holidays_skipped)


def adjusted_deadline(announce_at: datetime, effective_at: datetime, zone: tzinfo,
                      calendar: HolidayCalendar) -> Deadline:
    """The deadline for a seller in ``zone`` whose country follows ``calendar``.

    A seller must lose no working days to public holidays: the deadline is the first working
    day (keeping ``effective_at``'s local time of day) by which the seller has had as many
    working days since the announcement as a country without holidays would have had. It is
    never earlier than ``effective_at``, and unchanged when no holiday falls in between.
    """
    start = announce_at.astimezone(zone).date()
    effective_local = effective_at.astimezone(zone)
    wanted = weekdays(start, effective_local.date(), calendar)
    day = effective_local.date()
    for _ in range(_MAX_DAYS_SEARCHED):
        # a moved deadline lands on a working day, never on a holiday or a weekend
        if working_days(start, day, calendar) >= wanted and (
                day == effective_local.date() or calendar.is_working_day(day)):
            break
        day += timedelta(days=1)
    shift = (day - effective_local.date()).days
    if shift == 0:
        return Deadline(effective_at.astimezone(UTC), ())
    at = _at_local(day, effective_local.time().replace(tzinfo=None), zone)
    return Deadline(at, tuple(holidays_between(start, day, calendar)))


def notice_working_days(announce_at: datetime, effective_at: datetime, zone: tzinfo,
                        calendar: HolidayCalendar) -> int:
    """Working days of the seller's country between announcement and effective date."""
    return working_days(announce_at.astimezone(zone).date(),
                        effective_at.astimezone(zone).date(), calendar)


def deadline_after_notice(planned: datetime, notified_at: datetime, zone: tzinfo,
                          calendar: HolidayCalendar, min_notice_days: int) -> datetime:
    """Nothing counts against a seller before the notice arrived: the deadline is never less
    than ``min_notice_days`` working days after the notice was actually sent (a pause or a
    throttle can delay a notice past its planned time)."""
    notified_local = notified_at.astimezone(zone)
    earliest_day = add_working_days(notified_local.date(), min_notice_days, calendar)
    planned_local = planned.astimezone(zone)
    if earliest_day <= planned_local.date():
        return planned
    return _at_local(earliest_day, planned_local.time().replace(tzinfo=None), zone)


@dataclass(frozen=True, slots=True)
class Reminder:
    step: int  # 1-based position in the campaign's reminder list
    at: datetime


def next_reminder(deadline: datetime, reminders: Sequence[int], after: datetime, zone: tzinfo,
                  calendar: HolidayCalendar, quiet: QuietHours | None, *,
                  after_step: int = 0) -> Reminder | None:
    """The next reminder to send after the message sent at ``after`` (step ``after_step``).

    Reminder ``k`` is due ``reminders[k-1]`` days before the deadline, moved to the next
    allowed local time; it is skipped when that falls at or after the deadline, or less than
    :data:`MIN_REMINDER_GAP` after the previous message.
    """
    for index, days in enumerate(reminders, start=1):
        if index <= after_step:
            continue
        at = next_allowed(deadline - timedelta(days=days), zone, calendar, quiet)
        if at >= deadline or at < after + MIN_REMINDER_GAP:
            continue
        return Reminder(index, at)
    return None


@dataclass(frozen=True, slots=True)
class GroupPlan:
    """The schedule shared by every seller of one country and time zone."""

    notice_at: datetime
    deadline: Deadline
    first_reminder: Reminder | None = None
    notice_days: int = 0  # working days between announcement and effective_at
    reminders: tuple[Reminder, ...] = field(default_factory=tuple)


def plan_group(*, announce_at: datetime, effective_at: datetime, zone: tzinfo,
               calendar: HolidayCalendar, quiet: QuietHours | None,
               reminders: Sequence[int]) -> GroupPlan:
    """When the notice goes out, the deadline, and the reminders of one (country, zone)."""
    notice_at = next_allowed(announce_at, zone, calendar, quiet)
    deadline = adjusted_deadline(announce_at, effective_at, zone, calendar)
    planned: list[Reminder] = []
    previous, step = notice_at, 0
    while (reminder := next_reminder(deadline.at, reminders, previous, zone, calendar, quiet,
                                     after_step=step)) is not None:
        planned.append(reminder)
        previous, step = reminder.at, reminder.step
    return GroupPlan(notice_at=notice_at, deadline=deadline,
                     first_reminder=planned[0] if planned else None,
                     notice_days=notice_working_days(announce_at, effective_at, zone, calendar),
                     reminders=tuple(planned))


def parse_clock(value: str) -> time:
    """``"21:00"`` -> 21:00. Raises ValueError for anything but HH:MM (24-hour)."""
    hours, sep, minutes = value.partition(":")
    if not sep or len(hours) != 2 or len(minutes) != 2 or not (hours + minutes).isdigit():
        raise ValueError("use HH:MM (24-hour), e.g. 21:00")
    parsed = time(int(hours), int(minutes)) if int(hours) < 24 and int(minutes) < 60 else None
    if parsed is None:
        raise ValueError("use HH:MM (24-hour), e.g. 21:00")
    return parsed
