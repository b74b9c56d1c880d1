"""Is this message genuine? Verdicts, reason codes and what a checked message looks like.

Pure data and wording: the facts come from adapters/phishing (MIME, HTML, domains, DKIM),
the decision from services/checker.py.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from contactguard.domain.locales import message_locale


class Verdict(StrEnum):
    GENUINE = "genuine"  # in the sent ledger and, for email, signed with our own DKIM key
    PHISHING = "phishing"  # claims to be the platform and is not genuine
    UNRELATED = "unrelated"  # neither


class ReasonCode(StrEnum):
    """The warning signs the checker names (fixed API values), most serious first."""

    TAMPERED_COPY = "tampered_copy"
    SPOOFED_FROM = "spoofed_from"
    DKIM_INVALID = "dkim_invalid"
    LOOKALIKE_DOMAIN = "lookalike_domain"
    BRAND_IN_SUBDOMAIN = "brand_in_subdomain"
    DISPLAY_NAME_SPOOF = "display_name_spoof"
    ASKS_FOR_CREDENTIALS = "asks_for_credentials"
    ASKS_FOR_REPLY = "asks_for_reply"
    LINK_TEXT_MISMATCH = "link_text_mismatch"
    FOREIGN_LINKS = "foreign_links"
    URL_SHORTENER = "url_shortener"
    RISKY_ATTACHMENT = "risky_attachment"
    REPLY_TO_MISMATCH = "reply_to_mismatch"
    RETURN_PATH_MISMATCH = "return_path_mismatch"
    URGENCY = "urgency"
    NOT_IN_LEDGER = "not_in_ledger"


_ORDER = {code: index for index, code in enumerate(ReasonCode)}

#: Reason code -> locale -> explanation; ``{brand}`` is the platform's name.
MESSAGES: dict[ReasonCode, dict[str, str]] = {
    ReasonCode.TAMPERED_COPY: {
        "en": "This is an altered copy of a message {brand} sent: its text, code or links "
              "were changed, or it was sent to someone else. Do not act on it.",
        "zh-Hans": "这是 {brand} 所发消息的篡改副本：其中的文字、验证码或链接已被修改，"
                   "或者原消息是发给他人的。请勿按其内容操作。",
    },
    ReasonCode.SPOOFED_FROM: {
        "en": "The sender address uses a {brand} domain, but the message does not carry "
              "{brand}'s valid signature: the sender was forged.",
        "zh-Hans": "发件地址使用了 {brand} 的域名，但邮件没有 {brand} 的有效签名：发件人是伪造的。",
    },
    ReasonCode.DKIM_INVALID: {
        "en": "The message carries a {brand} signature (DKIM) that does not verify: it was "
              "changed after sending, or the signature was forged.",
        "zh-Hans": "邮件带有 {brand} 的签名（DKIM），但签名校验失败：邮件在发出后被修改，或签名是伪造的。",
    },
    ReasonCode.LOOKALIKE_DOMAIN: {
        "en": "A domain in this message imitates a {brand} domain (look-alike letters, a typo "
              "or extra words), but it does not belong to {brand}.",
        "zh-Hans": "邮件中的域名在模仿 {brand} 的域名（形近字符、拼写变体或附加词），但它不属于 {brand}。",
    },
    ReasonCode.BRAND_IN_SUBDOMAIN: {
        "en": "A web address puts {brand}'s name in front of someone else's domain; the "
              "real owner is the part at the end.",
        "zh-Hans": "网址把 {brand} 的名字放在了别人的域名前面；真正的所有者是网址末尾的部分。",
    },
    ReasonCode.DISPLAY_NAME_SPOOF: {
        "en": "The sender's name says {brand}, but the address behind it does not belong "
              "to {brand}.",
        "zh-Hans": "发件人名称显示为 {brand}，但其背后的邮箱地址不属于 {brand}。",
    },
    ReasonCode.ASKS_FOR_CREDENTIALS: {
        "en": "It asks for a password, a verification code, a PIN or card details. {brand} "
              "never asks for these by email, message or phone.",
        "zh-Hans": "它索要密码、验证码、PIN 码或银行卡信息。{brand} 绝不会通过邮件、短信或电话索要这些信息。",
    },
    ReasonCode.ASKS_FOR_REPLY: {
        "en": "It asks you to reply. {brand} never asks you to reply to a notice: nothing is "
              "done by email; open your dashboard the way you usually do.",
        "zh-Hans": "它要求您回复。{brand} 从不要求您回复通知：任何事项都不会通过邮件办理；"
                   "请按平时的方式打开您的后台。",
    },
    ReasonCode.LINK_TEXT_MISMATCH: {
        "en": "A link shows one address but leads to another.",
        "zh-Hans": "有链接显示的是一个网址，实际却指向另一个网址。",
    },
    ReasonCode.FOREIGN_LINKS: {
        "en": "It links to websites that do not belong to {brand}.",
        "zh-Hans": "它包含指向非 {brand} 网站的链接。",
    },
    ReasonCode.URL_SHORTENER: {
        "en": "It hides where a link goes behind a link-shortening service.",
        "zh-Hans": "它用短链接服务隐藏了链接的真实去向。",
    },
    ReasonCode.RISKY_ATTACHMENT: {
        "en": "It has an attachment that can run code or open a fake sign-in page (web page, "
              "script, program, disk image or archive). Do not open it.",
        "zh-Hans": "它带有可能运行代码或打开虚假登录页的附件（网页、脚本、程序、磁盘映像或压缩包）。"
                   "请勿打开。",
    },
    ReasonCode.REPLY_TO_MISMATCH: {
        "en": "Replies would go to a different address than the sender's.",
        "zh-Hans": "回复会发送到与发件人不同的地址。",
    },
    ReasonCode.RETURN_PATH_MISMATCH: {
        "en": "The message was sent from a different domain than the one in its From address.",
        "zh-Hans": "邮件的实际发送域名与发件人地址中的域名不一致。",
    },
    ReasonCode.URGENCY: {
        "en": "It pressures you to act fast or threatens your account, a common trick to "
              "stop you from checking.",
        "zh-Hans": "它催促您尽快行动或以账户受限相威胁，这是让您来不及核实的常见手法。",
    },
    ReasonCode.NOT_IN_LEDGER: {
        "en": "{brand} has no record of sending this message.",
        "zh-Hans": "{brand} 没有发送过这条消息的记录。",
    },
}


def reason_message(code: ReasonCode, locale: str, brand: str) -> str:
    """The explanation of ``code`` in ``locale`` (English when not supported)."""
    texts = MESSAGES[code]
    return texts.get(message_locale(locale), texts["en"]).format(brand=brand)


@dataclass(frozen=True, slots=True)
class Reason:
    code: ReasonCode
    message: str
    evidence: str


@dataclass(frozen=True, slots=True)
class Sign:
    """A warning sign found, before it is worded for a reader."""

    code: ReasonCode
    evidence: str


@dataclass(frozen=True, slots=True)
class MatchedMessage:
    """The ledger entry a checked message matched (recipient masked)."""

    reference: str
    channel: str
    sent_at: datetime
    recipient: str | None


@dataclass(frozen=True, slots=True)
class CheckResult:
    verdict: Verdict
    reasons: list[Reason]
    matched: MatchedMessage | None


def order_signs(signs: list[Sign]) -> list[Sign]:
    """One sign per code (evidence merged), most serious first."""
    merged: dict[ReasonCode, list[str]] = {}
    for sign in signs:
        items = merged.setdefault(sign.code, [])
        if sign.evidence and sign.evidence not in items:
            items.append(sign.evidence)
    return [Sign(code, _clip("; ".join(items[:5])))
            for code, items in sorted(merged.items(), key=lambda kv: _ORDER[kv[0]])]


def _clip(text: str, limit: int = 300) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


# --- What a parsed message looks like (filled by adapters/phishing) ------------------------


@dataclass(frozen=True, slots=True)
class MailAddress:
    name: str
    address: str  # lowercased
    domain: str  # lowercased, IDNA-decoded


@dataclass(frozen=True, slots=True)
class Link:
    url: str
    host: str  # lowercased, IDNA-decoded; '' when the link has none (mailto:, relative)
    text: str = ""  # what the reader sees (anchor text), '' for a URL written out
    kind: str = "href"  # href, text (written out), form (a form's action), nested (in a query)
    offset: int = 0  # where it sits in the text it was found in (plain or HTML text)
    in_html: bool = False


@dataclass(frozen=True, slots=True)
class Attachment:
    filename: str
    content_type: str


@dataclass(slots=True)
class ParsedMessage:
    """A message as the checker sees it: headers (for email), visible text, links, parts."""

    is_email: bool
    from_: MailAddress | None = None
    reply_to: list[MailAddress] = field(default_factory=list)
    return_path: MailAddress | None = None
    sender: MailAddress | None = None
    subject: str = ""
    message_id: str | None = None
    reference_header: str | None = None
    plain: str = ""  # the text/plain body
    html_text: str = ""  # what the HTML body shows
    links: list[Link] = field(default_factory=list)
    mentioned_hosts: list[str] = field(default_factory=list)  # domains written in the text
    attachments: list[Attachment] = field(default_factory=list)
    attachment_links: list[Link] = field(default_factory=list)  # in attached web pages
    attached_messages: list[bytes] = field(default_factory=list)  # message/rfc822 parts
    inline_forward: ParsedMessage | None = None  # a message quoted below forwarded headers
    forward_note: str = ""  # what the forwarder wrote above the quoted headers
    dkim_domains: list[str] = field(default_factory=list)  # d= of each DKIM-Signature
    password_field: bool = False  # an HTML form asking for a password
    alt_text: str = ""  # images' alt texts (brand logos), for brand mentions only
    raw: bytes | None = None
    defects: int = 0

    @property
    def text(self) -> str:
        """Everything a reader may see: the plain body, and the HTML's when it differs."""
        if self.plain and self.html_text:
            return self.plain + "\n" + self.html_text
        return self.plain or self.html_text


@dataclass(frozen=True, slots=True)
class DkimOutcome:
    """Our own signatures on a message: none, valid (with the selector) or invalid (why)."""

    present: bool
    valid: bool
    selector: str | None = None
    body_digest: str | None = None  # bh= of the valid signature
    detail: str = ""


class DomainKind(StrEnum):
    BRAND = "brand"  # a brand domain or one of its subdomains
    LOOKALIKE = "lookalike"
    BRAND_IN_SUBDOMAIN = "brand_in_subdomain"
    FOREIGN = "foreign"
    NONE = "none"  # not a domain (IP address, empty)


@dataclass(frozen=True, slots=True)
class DomainClass:
    kind: DomainKind
    registered: str  # the registrable domain (example.co.uk), or the host
    detail: str = ""  # e.g. "looks like acme.com (homoglyph)"
