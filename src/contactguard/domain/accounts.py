"""Accounts: the platform's account holders, addressed by the platform's own id."""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

EXTERNAL_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9._:@-]{0,127}")
EXTERNAL_ID_RULE = "1-128 characters: letters, digits and . _ : @ - (starting with a letter or digit)"
MAX_NAME_LENGTH = 200


@dataclass(slots=True)
class Account:
    id: int
    external_id: str
    name: str
    country: str
    locale: str
    time_zone: str
    created_at: datetime
    updated_at: datetime
    security_phrase: str | None = None


def is_valid_external_id(value: str) -> bool:
    return EXTERNAL_ID_PATTERN.fullmatch(value) is not None
