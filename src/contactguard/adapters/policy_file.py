"""Reads the policy file (``contactguard.toml``): the policy in force until one is set by API."""

from __future__ import annotations

import tomllib
from pathlib import Path

from contactguard.domain.compliance import Policy
from contactguard.domain.policy import policy_from_document
from contactguard.errors import ConfigurationError, ValidationFailed


def read_policy_file(path: Path) -> Policy:
    """Settings under ``[policy]`` (or at the top level). Raises ConfigurationError."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigurationError(f"cannot read the policy file {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigurationError(f"the policy file {path} is not valid TOML: {exc}") from exc
    section = data.get("policy", data)
    try:
        return policy_from_document(section, prefix="policy.")
    except ValidationFailed as exc:
        raise ConfigurationError(f"the policy file {path} is invalid: " + "; ".join(
            f"{e.field}: {e.message}" for e in exc.errors), errors=exc.errors) from exc
