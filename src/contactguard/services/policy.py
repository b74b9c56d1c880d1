"""The policy in force: read it, change it through the API, cache it briefly per process."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from contactguard.domain.audit import SYSTEM, Actor
from contactguard.domain.compliance import Policy
from contactguard.domain.policy import policy_from_document, policy_to_document
from contactguard.ports import UnitOfWork
from contactguard.services import audit
from contactguard.services.deps import Deps


class PolicyStore:
    """``deps.policy_source``: the newest policy saved through the API, else the file's.

    Cached for ``ttl`` seconds so that every web process agrees within that time without a
    query per request; a change made in this process is seen at once.
    """

    def __init__(self, uow_factory: Callable[[], UnitOfWork], fallback: Policy,
                 ttl: float = 5.0) -> None:
        self._uow = uow_factory
        self._fallback = fallback
        self._ttl = ttl
        self._lock = threading.Lock()
        self._cached: tuple[float, Policy] | None = None

    def __call__(self) -> Policy:
        cached = self._cached
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        with self._uow() as uow:
            document = uow.policies.current()
        policy = self._fallback if document is None else policy_from_document(document)
        with self._lock:
            self._cached = (time.monotonic() + self._ttl, policy)
        return policy

    @property
    def fallback(self) -> Policy:
        return self._fallback

    def invalidate(self) -> None:
        with self._lock:
            self._cached = None


def get_policy(deps: Deps) -> Policy:
    return deps.policy


def set_policy(deps: Deps, document: dict[str, Any], *, actor: Actor = SYSTEM) -> Policy:
    """Validate and store a new policy (keys left out take their defaults), then have every
    account's compliance recomputed by the periodic job.

    Raises ValidationFailed naming each bad setting.
    """
    policy = policy_from_document(document)
    now = deps.clock.now()
    with deps.uow() as uow:
        before = policy_to_document(deps.policy)
        after = policy_to_document(policy)
        uow.policies.save(after, now)
        marked = uow.compliance.recheck_all(now)
        audit.record(deps, uow, actor, "policy.updated", "policy", before=before,
                     after={**after, "accounts_to_recheck": marked})
        invalidate = getattr(deps.policy_source, "invalidate", None)
        if invalidate is not None:
            uow.after_commit(invalidate)
        uow.commit()
    return policy
