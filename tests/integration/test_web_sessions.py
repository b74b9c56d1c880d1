"""Server-side web sessions: open, resolve, end, revoke, expire, purge (SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta

import pytest

from contactguard.bootstrap import Container
from contactguard.domain.audit import Actor
from contactguard.domain.sessions import Realm
from contactguard.errors import NotFound
from contactguard.services import web_sessions as ws
from contactguard.testing import FrozenClock


def test_a_session_resolves_until_it_ends_or_expires(container: Container,
                                                     clock: FrozenClock) -> None:
    deps = container.deps
    token, record = ws.open_session(deps, realm=Realm.SELLER, subject="s1",
                                    lifetime=timedelta(hours=8), user_agent="x" * 500)
    assert record.user_agent == "x" * 200 and record.is_open(clock.now())
    assert ws.resolve_session(deps, realm=Realm.SELLER, token=token).id == record.id
    assert ws.resolve_session(deps, realm=Realm.OPERATOR, token=token) is None  # no crossing
    assert ws.resolve_session(deps, realm=Realm.SELLER, token=token + "x") is None
    assert ws.resolve_session(deps, realm=Realm.SELLER, token="\x00" * 200) is None
    clock.advance(minutes=6)
    touched = ws.resolve_session(deps, realm=Realm.SELLER, token=token)
    assert touched is not None
    assert ws.resolve_session(deps, realm=Realm.SELLER, token=token).last_seen_at == clock.now()
    assert ws.end_session(deps, realm=Realm.SELLER, token=token)
    assert not ws.end_session(deps, realm=Realm.SELLER, token=token)  # already ended
    assert ws.resolve_session(deps, realm=Realm.SELLER, token=token) is None

    late, _ = ws.open_session(deps, realm=Realm.SELLER, subject="s1", lifetime=timedelta(hours=1))
    clock.advance(hours=1)
    assert ws.resolve_session(deps, realm=Realm.SELLER, token=late) is None


def test_an_admin_revokes_one_session_or_all_of_a_subject(container: Container,
                                                         clock: FrozenClock) -> None:
    deps = container.deps
    admin = Actor.operator(1, "admin@acme.test")
    tokens = [ws.open_session(deps, realm=Realm.OPERATOR, subject="7",
                              lifetime=timedelta(hours=8))[0] for _ in range(3)]
    other, _ = ws.open_session(deps, realm=Realm.OPERATOR, subject="8", lifetime=timedelta(hours=8))
    open_for_7 = ws.list_sessions(deps, realm=Realm.OPERATOR, subject="7")
    assert len(open_for_7) == 3 and len(ws.list_sessions(deps, realm=Realm.OPERATOR)) == 4
    ended = ws.revoke_session(deps, open_for_7[0].id, actor=admin)
    assert ended.end_reason == "revoked" and ended.ended_at == clock.now()
    assert ws.resolve_session(deps, realm=Realm.OPERATOR, token=tokens[2]) is None
    with pytest.raises(NotFound):
        ws.revoke_session(deps, 999_999, actor=admin)
    assert ws.revoke_sessions(deps, realm=Realm.OPERATOR, subject="7", actor=admin) == 2
    assert all(ws.resolve_session(deps, realm=Realm.OPERATOR, token=t) is None for t in tokens)
    assert ws.resolve_session(deps, realm=Realm.OPERATOR, token=other) is not None
    clock.advance(days=31)
    assert ws.purge_sessions(deps) == 4
