"""Seller sessions in signed cookies, notice titles and the Chinese catalog (no I/O)."""

from __future__ import annotations

import ast
import inspect
import re
import textwrap
from datetime import UTC, datetime, timedelta
from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.pofile import read_po

from contactguard import normalize
from contactguard.domain import phrases
from contactguard.domain.contacts import REFUSED_LINE_TYPES, ContactKind
from contactguard.domain.locales import SUPPORTED_LOCALES
from contactguard.domain.messages import MessageKind
from contactguard.domain.notices import TITLES, notice_title
from contactguard.entrypoints.web import texts
from contactguard.entrypoints.web.i18n import LOCALE_DIR, Translator, pick_language
from contactguard.entrypoints.web.session import SessionCodec, WebSession
from contactguard.errors import FieldError

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


def test_language_follows_the_choice_then_the_account_then_the_browser() -> None:
    assert pick_language("en", "zh-CN") == "en"
    assert pick_language(None, "zh-CN") == "zh-Hans"
    assert pick_language("xx", "de-DE") == "en"
    assert pick_language(None, None) == "en"
    # Signed out (no account): the browser's Accept-Language.
    assert pick_language(None, None, "zh-CN,zh;q=0.9,en;q=0.8") == "zh-Hans"
    assert pick_language(None, None, "de-DE,de;q=0.9,en;q=0.5,zh;q=0.4") == "en"
    assert pick_language(None, None, "en;q=0.4, zh-Hans;q=0.9") == "zh-Hans"
    assert pick_language(None, None, "zh-TW,zh-Hant;q=0.9") == "en"
    assert pick_language(None, None, "fr, zh;q=0") == "en"
    assert pick_language("en", None, "zh-CN") == "en"  # the footer switch wins


def test_notice_titles_use_only_safe_params() -> None:
    params = {"masked_to": "+86 ••• ••• 9988", "code": "123456"}
    assert notice_title("verification_code", params, "en") == "Verification code sent to +86 ••• ••• 9988"
    assert notice_title("verification_code", params, "zh-CN") == "验证码已发送至 +86 ••• ••• 9988"
    assert notice_title("policy_change", {}, "en") == "Notice: policy change"
    assert notice_title("verification_code", {}, "en") == "Notice: verification code"


def test_every_page_string_is_translated_to_chinese() -> None:
    """The catalog matches the templates and the texts pages word from error codes
    (``web/texts.py``): no string missing, none left over, all translated (plurals too)."""
    src = Path(__file__).resolve().parents[2] / "src" / "contactguard"
    found = [*extract_from_dir(str(src / "templates" / "web"), method_map=[("**.html", "jinja2")],
                               keywords={"_": None, "ngettext": (1, 2)}),
             *extract_from_dir(str(src / "entrypoints" / "web"),
                               method_map=[("texts.py", "python")],
                               keywords={"N_": None, "ngettext": (1, 2)})]
    wanted = {m[2] if isinstance(m[2], str) else m[2][0] for m in found}
    assert set(texts.every_message()) <= wanted
    with (LOCALE_DIR / "zh_Hans" / "LC_MESSAGES" / "web.po").open("rb") as handle:
        catalog = read_po(handle)
    have = {m.id if isinstance(m.id, str) else m.id[0]: m for m in catalog if m.id}
    assert wanted - set(have) == set(), "run `make messages` and translate the new strings"
    assert set(have) - wanted == set(), "run `make messages` to drop strings no page uses"
    untranslated = [k for k, m in have.items()
                    if not m.string or m.fuzzy or (isinstance(m.string, tuple) and not all(m.string))]
    assert not untranslated
    t = Translator("zh-Hans")
    assert t.ngettext("%(n)s attempt left", "%(n)s attempts left", 4) == "还可尝试 4 次"


def _codes_in(function: object) -> set[str]:
    """String codes a function passes to ``_fail`` / ``FieldError`` or returns (its source)."""
    tree = ast.parse(textwrap.dedent(inspect.getsource(function)))  # type: ignore[arg-type]
    codes: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and getattr(node.func, "id", None) in ("_fail", "FieldError"):
            args = [*node.args[2:3], *(k.value for k in node.keywords if k.arg == "code")]
            codes |= {a.value for a in args if isinstance(a, ast.Constant)}
        if isinstance(node, ast.Return) and isinstance(node.value, ast.Constant) and \
                isinstance(node.value.value, str):
            codes.add(node.value.value)
    return codes


def test_every_error_code_a_seller_can_see_is_worded_in_chinese() -> None:
    """Issue 12: field errors from normalization and services reached the Chinese pages in
    English. Every code the contact and phrase forms can get is worded from its code."""
    codes = (_codes_in(normalize.parse_phone) | _codes_in(normalize.normalize_email)
             | {t.value for t in REFUSED_LINE_TYPES} | _codes_in(phrases.phrase_problem)
             | {"control_characters"})
    assert {"invalid_phone", "invalid_email", "unknown_line_type", "phrase_common",
            "phrase_example"} <= codes
    zh, en = Translator("zh-Hans"), Translator("en")
    generic = zh.gettext(texts.UNKNOWN)
    for code in codes:
        for kind in ContactKind:
            error = FieldError("value", "english text", code,
                               {"value": "x", "min": "4", "max": "60", "character": "U+0000"})
            worded = texts.field_error(zh, error, kind)
            assert worded != generic and re.search(r"[\u4e00-\u9fff]", worded), (code, worded)
            assert texts.field_error(en, error, kind) != en.gettext(texts.UNKNOWN), code
    reasons = {reason for _, reason in normalize._EMAIL_REASONS} | {"syntax"}
    for reason in reasons:
        error = FieldError("value", "english", "invalid_email", {"value": "x", "reason": reason})
        assert re.search(r"[\u4e00-\u9fff]", texts.field_error(zh, error)), reason
    region = FieldError("value", "english", "invalid_phone", {"value": "📞📞📞", "region": "CN"})
    assert texts.field_error(zh, region) == "“📞📞📞”不是中国的有效电话号码。"


def test_every_message_template_and_notice_title_exists_in_chinese() -> None:
    """Each message template has its Simplified Chinese twin, and every kind of notice has a
    message-center title in every language (no "通知：contact changed")."""
    messages = Path(__file__).resolve().parents[2] / "src" / "contactguard" / "templates" / "messages"
    english = {p.name for p in (messages / "en").iterdir()}
    assert english and english == {p.name for p in (messages / "zh-Hans").iterdir()}
    for kind in MessageKind:
        if kind is MessageKind.WEBHOOK_EVENT:
            continue
        for locale in SUPPORTED_LOCALES:
            assert locale in TITLES.get(kind.value, {}), (kind, locale)
    title = notice_title("contact_changed", {"contact": "emergency_email",
                                             "masked_new": "n•••@example.com"}, "zh-Hans")
    assert title == "您的紧急联系邮箱已更改为 n•••@example.com"


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
