"""Pure rules of issue 11: API key scopes and audit anchor documents."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from contactguard.domain.apikeys import Scope, allows, from_text, granted, parse_scopes, to_text
from contactguard.domain.audit import (
    AuditAnchor,
    anchor_from_document,
    anchor_key,
    anchor_signature_valid,
    anchor_to_document,
    sign_anchor,
)


def test_scopes_parse_imply_and_round_trip() -> None:
    assert parse_scopes(["Sessions", " read ", "read"]) == (Scope.READ, Scope.SESSIONS)
    assert parse_scopes(["write", "full"]) == (Scope.FULL,)
    with pytest.raises(ValueError, match="unknown scope 'root'"):
        parse_scopes(["root"])
    with pytest.raises(ValueError, match="at least one"):
        parse_scopes([])
    assert granted([Scope.WRITE]) == {Scope.READ, Scope.WRITE}
    assert granted([Scope.FULL]) == set(Scope)
    assert not allows([Scope.WRITE], Scope.SESSIONS) and not allows([Scope.ADMIN], Scope.READ)
    assert from_text(to_text((Scope.READ, Scope.SESSIONS))) == (Scope.READ, Scope.SESSIONS)
    assert from_text("") == from_text(None) == (Scope.FULL,)  # keys made before scopes
    assert from_text("superuser") == ()  # an unknown stored name grants nothing
    assert not allows(from_text("superuser"), Scope.READ)


def test_anchor_documents_round_trip_and_are_checked() -> None:
    key = anchor_key(b"k" * 32)
    anchor = sign_anchor(key, AuditAnchor(7, "ab" * 32, datetime(2026, 3, 2, 9, tzinfo=UTC)))
    document = anchor_to_document(anchor)
    assert anchor_from_document(document) == anchor
    assert anchor_signature_valid(key, anchor)
    assert not anchor_signature_valid(anchor_key(b"x" * 32), anchor)
    for field, value in (("seq", 8), ("hash", "cd" * 32), ("at", "2026-03-02T10:00:00+00:00")):
        assert not anchor_signature_valid(key, anchor_from_document({**document, field: value}))
    for bad, message in (({}, "not an audit anchor"), ({**document, "v": 2}, "version"),
                         ({**document, "seq": -1}, "seq"), ({**document, "seq": True}, "seq"),
                         ({**document, "hash": "XYZ"}, "hash"),
                         ({**document, "signature": "0" * 63}, "signature"),
                         ({**document, "at": "yesterday"}, "ISO 8601"),
                         ({**document, "at": "2026-03-02T09:00:00"}, "UTC offset")):
        with pytest.raises(ValueError, match=message):
            anchor_from_document(bad)
