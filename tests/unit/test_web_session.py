"""Seller sessions in signed cookies, notice titles and the Chinese catalog (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from contactguard.domain.notices import notice_title
from contactguard.entrypoints.web.i18n import LOCALE_DIR, Translator, pick_language
from contactguard.entrypoints.web.session import SessionCodec, WebSession

NOW = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
KEY = "k" * 40


def _codec(secure: bool = True) -> SessionCodec:
    return SessionCodec(KEY, lifetime=timedelta(hours=8), secure=secure)


def test_a_session_survives_the_round_trip() -> None:
    session = WebSession.signed_in("seller-1", NOW, lang="en")
    session.verifications["emergency_phone"] = "vrf_abc"
    back = _codec().loads(_codec().dumps(session), NOW + timedelta(hours=7))
    assert back is not None
    assert (back.account, back.csrf, back.lang, back.verifications) == (
        "seller-1", session.csrf, "en", {"emergency_phone": "vrf_abc"})
    assert back.csrf_ok(session.csrf) and not back.csrf_ok("") and not back.csrf_ok(None)


def test_forged_expired_and_foreign_cookies_are_refused() -> None:
    value = _codec().dumps(WebSession.signed_in("seller-1", NOW))
    body, signature = value.split(".")
    assert _codec().loads(value, NOW + timedelta(hours=8)) is None
    assert _codec().loads(value, NOW - timedelta(minutes=1)) is None
    assert _codec().loads(f"{body}x.{signature}", NOW) is None
    assert _codec().loads(f"{body}.{signature[:-2]}", NOW) is None
    other = SessionCodec("z" * 40, lifetime=timedelta(hours=8), secure=True)
    assert other.loads(value, NOW) is None
    for junk in ("", "a", "a.b.c", "%%%.%%%", "x" * 5000):
        assert _codec().loads(junk, NOW) is None


def test_secure_sessions_use_a_host_only_cookie() -> None:
    assert _codec(secure=True).cookie_name == "__Host-cg_session"
    assert _codec(secure=False).cookie_name == "cg_session"


def test_language_follows_the_choice_then_the_account() -> None:
    assert pick_language("en", "zh-CN") == "en"
    assert pick_language(None, "zh-CN") == "zh-Hans"
    assert pick_language("xx", "de-DE") == "en"
    assert pick_language(None, None) == "en"


def test_notice_titles_use_only_safe_params() -> None:
    params = {"masked_to": "+86 ••• ••• 9988", "code": "123456"}
    assert notice_title("verification_code", params, "en") == "Verification code sent to +86 ••• ••• 9988"
    assert notice_title("verification_code", params, "zh-CN") == "验证码已发送至 +86 ••• ••• 9988"
    assert notice_title("policy_change", {}, "en") == "Notice: policy change"
    assert notice_title("verification_code", {}, "en") == "Notice: verification code"


def test_every_page_string_is_translated_to_chinese() -> None:
    """The catalog matches the templates: no string missing, none left over, all translated."""
    templates = Path(__file__).resolve().parents[2] / "src" / "contactguard" / "templates" / "web"
    found = extract_from_dir(str(templates), method_map=[("**.html", "jinja2")],
                             keywords={"_": None, "ngettext": (1, 2)})
    wanted = {m[2] if isinstance(m[2], str) else m[2][0] for m in found}
    with (LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "web.po").open("rb") as handle:
        catalog = read_po(handle)
    have = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}
    assert wanted - set(have) == set(), "run `make messages` and translate the new strings"
    assert set(have) - wanted == set(), "run `make messages` to drop strings no page uses"
    untranslated = [k for k, m in have.items() if not m.string or m.fuzzy]
    assert not untranslated
    t = Translator("zh-Hans")
    assert t.ngettext("%(n)s attempt left", "%(n)s attempts left", 4) == "还可尝试 4 次"


def test_every_console_string_is_translated_to_chinese() -> None:
    """The console's own catalog (console.po) matches its templates and page modules."""
    src = Path(__file__).resolve().parents[2] / "src" / "contactguard"
    keywords = {"_": None, "gettext": None, "ngettext": (1, 2)}
    found = [*extract_from_dir(str(src / "templates" / "console"),
                               method_map=[("**.html", "jinja2")], keywords=keywords),
             *extract_from_dir(str(src / "entrypoints" / "web" / "console"),
                               method_map=[("**.py", "python")], keywords=keywords)]
    wanted = {m[2] if isinstance(m[2], str) else m[2][0] for m in found}
    with (LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "console.po").open("rb") as handle:
        catalog = read_po(handle)
    have = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}
    assert wanted - set(have) == set(), "run `make messages` and translate the new strings"
    assert set(have) - wanted == set(), "run `make messages` to drop strings no page uses"
    assert [k for k, m in have.items() if not m.string or m.fuzzy or not all(m.string)] == []
    t = Translator("zh-Hans", domain="console")
    assert t.gettext("Wrong email, password or code.") == "邮箱、密码或验证码错误。"
    assert t.ngettext("%(n)s account found.", "%(n)s accounts found.", 3) == "找到 3 个账户。"
    assert Translator("zh-Hans").gettext("Requirements met") == "Requirements met"  # not in web
