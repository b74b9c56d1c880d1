"""The pure rules of the shared limits and the SMS-pumping guard (domain/abuse.py)."""

from __future__ import annotations

from contactguard.domain.abuse import (
    BlockReason,
    PrefixStats,
    ProtectionPolicy,
    Quota,
    destination_key,
    judge_prefix,
    lock_id,
    number_risk,
    phone_prefix,
)


def test_prefix_is_the_number_without_its_last_four_digits() -> None:
    assert phone_prefix("+4915112340123") == "+491511234"
    assert phone_prefix("+14155550123") == "+1415555"
    assert phone_prefix("+12") == "+1"  # never empty


def test_destination_keys_fold_case_of_emails_only() -> None:
    assert destination_key(" MailBox@Example.NET ", is_email=True) == "mailbox@example.net"
    assert destination_key("Straße@example.de", is_email=True) == "strasse@example.de"
    assert destination_key("+14155550123", is_email=False) == "+14155550123"
    assert lock_id("a") != lock_id("b") and -(2**63) <= lock_id("a") < 2**63


def test_costly_and_non_geographic_numbers() -> None:
    policy = ProtectionPolicy()
    assert number_risk("882", "mobile", policy) is BlockReason.NON_GEOGRAPHIC
    assert number_risk("800", "toll_free", policy) is BlockReason.NON_GEOGRAPHIC
    assert number_risk("33", "premium_rate", policy) is BlockReason.COSTLY_NUMBER
    assert number_risk("44", "shared_cost", policy) is BlockReason.COSTLY_NUMBER
    assert number_risk("49", "mobile", policy) is None
    assert number_risk("882", "mobile", ProtectionPolicy(allow_costly_numbers=True)) is None


def test_velocity_and_conversion() -> None:
    policy = ProtectionPolicy()  # 30 unverified; 20 sends with < 10 % verified
    assert judge_prefix(PrefixStats(sent=19, verified=0), policy) is None
    assert judge_prefix(PrefixStats(sent=20, verified=0), policy) is BlockReason.LOW_CONVERSION
    assert judge_prefix(PrefixStats(sent=20, verified=2), policy) is None  # exactly 10 %
    assert judge_prefix(PrefixStats(sent=21, verified=2), policy) is BlockReason.LOW_CONVERSION
    assert judge_prefix(PrefixStats(sent=60, verified=30), policy) is BlockReason.PREFIX_VELOCITY
    assert judge_prefix(PrefixStats(sent=59, verified=30), policy) is None


def test_ratelimit_header_items() -> None:
    quota = Quota("api_key", 1200, 60)
    assert quota.policy_header == '"api_key";q=1200;w=60'
    assert quota.header(0, 17) == '"api_key";r=0;t=17'
    assert quota.header(-1, -3) == '"api_key";r=0;t=0'
    assert ProtectionPolicy().quota("destination") == Quota("destination", 10, 3600)
