"""Public holiday calendars per country from the `holidays` package (CN Spring Festival, ...)."""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

import holidays as holiday_data

from contactguard.domain.campaigns import HolidayCalendar, WeekendCalendar


class CountryCalendar:
    """One country's holidays and working week; substitute working days (CN) included."""

    def __init__(self, country: str, data: Any) -> None:
        self.country = country
        self._data = data
        self._lock = threading.Lock()  # the package fills years in lazily (not thread-safe)
        self._days: dict[date, tuple[bool, bool, bool]] = {}  # (holiday, weekend, working)

    def _day(self, day: date) -> tuple[bool, bool, bool]:
        found = self._days.get(day)
        if found is None:
            with self._lock:
                holiday = day in self._data  # fills the year in, with its substitute workdays
                weekend = (day.weekday() in self._data.weekend
                           and day not in self._data.weekend_workdays)
                found = (holiday, weekend, bool(self._data.is_working_day(day)))
                if len(self._days) > 20_000:
                    self._days.clear()
                self._days[day] = found
        return found

    def is_holiday(self, day: date) -> bool:
        return self._day(day)[0]

    def is_weekend(self, day: date) -> bool:
        return self._day(day)[1]

    def is_working_day(self, day: date) -> bool:
        return self._day(day)[2]

    def names(self, day: date) -> list[str]:
        with self._lock:
            return list(self._data.get_list(day))


class HolidayCalendars:
    """Calendars by ISO country code, built once per process; unknown countries get weekends only."""

    def __init__(self) -> None:
        self._cache: dict[str, HolidayCalendar] = {}
        self._lock = threading.Lock()

    def __call__(self, country: str) -> HolidayCalendar:
        code = country.upper()
        with self._lock:
            found = self._cache.get(code)
            if found is None:
                found = self._cache[code] = self._build(code)
            return found

    def knows(self, country: str) -> bool:
        return isinstance(self(country), CountryCalendar)

    @staticmethod
    def _build(code: str) -> HolidayCalendar:
        try:
            return CountryCalendar(code, holiday_data.country_holidays(code))
        except NotImplementedError:
            return WeekendCalendar()
