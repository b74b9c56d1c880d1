"""Parsing a suspicious message, whatever shape it is in.

Raw RFC 5322 bytes go through the stdlib parser (``compat32``: lenient and fast); every
header, part and charset is decoded defensively (wrong or unknown charsets are guessed with
charset-normalizer), so broken MIME gives a best-effort reading instead of an error. A
message with no header at all is not an email (``Unparseable``).

Forwarded messages are found in both forms: attached (``message/rfc822``, kept as the
original bytes so their DKIM signatures still verify) and inline (quoted header lines such
as "---------- Forwarded message ---------" / "From: ... Subject: ...", in the formats of
common clients and languages; the quoted body is un-``>``-ed).
"""

from __future__ import annotations

import codecs
import re
from email import message_from_bytes
from email.generator import BytesGenerator
from email.header import decode_header
from email.message import Message
from email.policy import compat32
from email.utils import getaddresses, parseaddr
from io import BytesIO
from urllib.parse import parse_qsl, unquote, urlsplit

import charset_normalizer

from contactguard.adapters.phishing.domains import normalize_host
from contactguard.adapters.phishing.html import read_html
from contactguard.domain.ledger import urls_in
from contactguard.domain.phishing import Attachment, Link, MailAddress, ParsedMessage

_MAX_PARTS = 300
_MAX_DEPTH = 12
_MAX_TEXT = 1_000_000
_MAX_LINKS = 300

_ALIASES = {"gb2312": "gb18030", "gbk": "gb18030", "x-gbk": "gb18030", "cp936": "gb18030",
            "ks_c_5601-1987": "cp949", "x-sjis": "shift_jis", "unicode-1-1-utf-7": "utf-7",
            "iso-8859-8-i": "iso-8859-8", "windows-874": "cp874", "utf8": "utf-8"}
_LATIN = {"us-ascii", "ascii", "iso-8859-1", "latin-1", "latin1", "windows-1252", "cp1252",
          "iso8859-1"}


class Unparseable(Exception):
    """The input is not an email message (no header fields)."""


# --- decoding -------------------------------------------------------------------------------


def decode_bytes(data: bytes, declared: str | None) -> str:
    """Text from bytes: the declared charset if it fits, else UTF-8, else a detected one."""
    charset = _charset(declared)
    if charset is not None:
        try:
            text = data.decode(charset)
        except (UnicodeDecodeError, LookupError):
            pass
        else:
            if charset.replace("_", "-").lower() not in _LATIN or data.isascii():
                return text
            try:  # declared Latin-1 but really UTF-8 (a common mislabelling)
                return data.decode("utf-8")
            except UnicodeDecodeError:
                return text
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        pass
    if _single_byte(data[:65536]):  # lone high bytes between ASCII: Western European text
        return data.decode("cp1252", errors="replace")
    best = charset_normalizer.from_bytes(data[:65536]).best()
    if best is not None and best.encoding:
        try:
            return data.decode(best.encoding, errors="replace")
        except LookupError:
            pass
    return data.decode(charset or "utf-8", errors="replace") if charset else \
        data.decode("utf-8", errors="replace")


_LONE_HIGH = re.compile(rb"(?<![\x80-\xff])[\x80-\xff](?![\x80-\xff])")
_HIGH = re.compile(rb"[\x80-\xff]")


def _single_byte(data: bytes) -> bool:
    high = len(_HIGH.findall(data))
    return bool(high) and len(_LONE_HIGH.findall(data)) * 2 > high


def _charset(declared: str | None) -> str | None:
    if not declared:
        return None
    name = str(declared).strip().strip("\"'").lower()
    name = _ALIASES.get(name, name)
    try:
        return codecs.lookup(name).name
    except (LookupError, ValueError):
        return None


def header_text(value: object) -> str:
    """A header's text: RFC 2047 words decoded, raw 8-bit bytes read as UTF-8 (or guessed)."""
    if value is None:
        return ""
    text = str(value)
    if any("\udc80" <= ch <= "\udcff" for ch in text):
        raw = text.encode("utf-8", "surrogateescape")
        text = decode_bytes(raw, None)
    if "=?" not in text:
        return _unfold(text)
    try:
        pieces = decode_header(text)
    except Exception:
        return _unfold(text)
    out = []
    for chunk, charset in pieces:
        out.append(decode_bytes(chunk, charset) if isinstance(chunk, bytes) else chunk)
    # decode_header drops the space between an encoded word and plain text
    return _unfold("".join(out) if len(out) > 1 and all(isinstance(c, bytes) for c, _ in pieces)
                   else " ".join(o.strip() for o in out))


def _unfold(text: str) -> str:
    return " ".join(text.split())


# --- hosts and links ------------------------------------------------------------------------


def host_of(url: str) -> str:
    """The host a link goes to, lowercased and IDNA-decoded ('' when it has none)."""
    value = url.strip().replace("\\", "/")
    if value.lower().startswith("www."):
        value = "http://" + value
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
    except ValueError:
        return ""
    if parts.scheme and parts.scheme.lower() not in {"http", "https", "ftp", "ftps"}:
        return ""
    return normalize_host(unquote(host))


def _address(name: str, address: str) -> MailAddress | None:
    address = address.strip().strip("<>").strip()
    if "@" not in address:
        return None
    local, _, domain = address.rpartition("@")
    return MailAddress(name=name.strip().strip('"').strip(), address=f"{local}@{domain}".lower(),
                       domain=normalize_host(domain))


def _addresses(value: str) -> list[MailAddress]:
    found = []
    try:
        pairs = getaddresses([value])
    except Exception:
        pairs = [parseaddr(value)]
    for name, addr in pairs:
        parsed = _address(name, addr)
        if parsed is not None:
            found.append(parsed)
    return found


def parse_from(value: str) -> MailAddress | None:
    """``Name <addr>`` (also ``Name [mailto:addr]`` as some clients quote it)."""
    value = re.sub(r"\[mailto:([^\]]+)\]", r"<\1>", value)
    found = _addresses(value)
    if found:
        return found[0]
    name = value.strip()
    return MailAddress(name=name, address="", domain="") if name else None


_Found = tuple[str, str, str, int, bool]  # url, text, kind, offset, in HTML


def _links(urls: list[_Found]) -> list[Link]:
    """Links with their hosts, plus links nested in a query (redirectors, safe-links)."""
    links: list[Link] = []
    for url, text, kind, offset, in_html in urls[:_MAX_LINKS]:
        links.append(Link(url=url[:2000], host=host_of(url), text=text[:300], kind=kind,
                          offset=offset, in_html=in_html))
        if "?" in url:
            try:
                query = parse_qsl(urlsplit(url.replace("\\", "/")).query)
            except ValueError:
                continue
            for _key, nested in query[:20]:
                if nested.lower().startswith(("http://", "https://", "www.")):
                    links.append(Link(url=nested[:2000], host=host_of(nested), text="",
                                      kind="nested", offset=offset, in_html=in_html))
    return links


_LABEL = "[a-z0-9\u00a1-\u2e7f]"  # letters of Latin, Greek, Cyrillic... (not CJK: no dots there)
_HOST_IN_TEXT = re.compile(
    rf"(?<![\w@./-])((?:{_LABEL}(?:[a-z0-9\u00a1-\u2e7f-]{{0,61}}{_LABEL})?\.)+"
    r"(?:[a-z]{2,24}|xn--[a-z0-9-]{2,30}))(?![\w-])", re.IGNORECASE)
_EMAIL_IN_TEXT = re.compile(r"[\w.+-]{1,64}@([\w-]{1,63}(?:\.[\w-]{1,63}){1,8})")


def mentioned_hosts(text: str) -> list[str]:
    """Domains written in the text (bare ``amaz0n-help.com`` or in addresses), at most 50."""
    found: dict[str, None] = {}
    sample = text[:200_000]
    if "." not in sample:
        return []
    for match in _EMAIL_IN_TEXT.finditer(sample) if "@" in sample else ():
        found[normalize_host(match.group(1))] = None
    for match in _HOST_IN_TEXT.finditer(urls_stripped(sample)):
        found[normalize_host(match.group(1))] = None
        if len(found) >= 50:
            break
    return list(found)


def urls_stripped(text: str) -> str:
    return _EMAIL_IN_TEXT.sub(" ", re.sub(r"(?i)\b(?:https?://|www\.)\S+", " ", text))


# --- inline forwards ------------------------------------------------------------------------

_LABEL_LINE = re.compile(r"^[\s>*_|]*([^\W\d_][^:\uff1a\n]{0,24}?)\s*\**\s*[:\uff1a]\s*\**(.*)$")
_FROM = {"from", "von", "de", "da", "van", "od", "от", "发件人", "寄件者", "寄件人", "差出人", "送信者",
         "보낸사람", "afzender", "remetente"}
_DATE = {"date", "sent", "datum", "gesendet", "fecha", "enviado", "enviada", "data", "envoyé",
         "envoye", "发送时间", "發送時間", "日期", "时间", "時間", "寄件日期", "傳送時間", "date d'envoi",
         "inviato", "verzonden", "送信日時", "日時"}
_SUBJECT = {"subject", "betreff", "asunto", "assunto", "objet", "主题", "主題", "主旨", "標題", "件名",
            "oggetto", "onderwerp", "temat", "sujet"}
_TO = {"to", "an", "para", "à", "a", "收件人", "收件者", "宛先", "cc", "kopie", "抄送", "副本", "bcc",
       "aan", "per", "destinataire", "destinatário", "destinatario", "reply-to", "antwort an",
       "répondre à"}
_KNOWN = _FROM | _DATE | _SUBJECT | _TO


def _label(line: str) -> tuple[str, str] | None:
    match = _LABEL_LINE.match(line)
    if not match:
        return None
    label = match.group(1).strip().strip("*").strip().lower()
    return (label, match.group(2).strip()) if label in _KNOWN else None


def find_inline_forward(text: str) -> tuple[dict[str, str], str, int] | None:
    """The quoted headers (from, subject, date) and the body of an inline-forwarded message,
    and where that body starts in ``text``; None when ``text`` quotes no message."""
    lines = text.splitlines(keepends=True)
    starts = []
    position = 0
    for line in lines:
        starts.append(position)
        position += len(line)
    for index, line in enumerate(lines[:5000]):
        labelled = _label(line)
        if labelled is None or labelled[0] not in _FROM:
            continue
        first = index
        while first > 0 and (_label(lines[first - 1]) is not None):
            first -= 1
        fields: dict[str, str] = {}
        last = first
        cursor = first
        blank_run = 0
        while cursor < len(lines):
            current = lines[cursor]
            labelled_line = _label(current)
            if labelled_line is not None:
                name, value = labelled_line
                key = ("from" if name in _FROM else "date" if name in _DATE
                       else "subject" if name in _SUBJECT else "to")
                fields.setdefault(key, value)
                last = cursor
                blank_run = 0
            elif not current.strip(" \t\r\n>") and blank_run == 0 and cursor + 1 < len(lines) \
                    and _label(lines[cursor + 1]) is not None:
                blank_run = 1  # Apple Mail leaves blank lines between quoted headers
            else:
                break
            cursor += 1
        if "from" in fields and ("subject" in fields or "date" in fields) and last > first:
            body_start = starts[last + 1] if last + 1 < len(lines) else len(text)
            return fields, _unquote(text[body_start:]), body_start
    return None


def _unquote(body: str) -> str:
    """Remove one level of ``>`` quoting when most lines carry it."""
    lines = body.splitlines()
    filled = [line for line in lines if line.strip()]
    if filled and sum(1 for line in filled if line.lstrip().startswith(">")) >= 0.6 * len(filled):
        return "\n".join(re.sub(r"^\s*> ?", "", line) for line in lines)
    return body


# --- the message ----------------------------------------------------------------------------


def looks_like_raw(text: str) -> bool:
    """A pasted message source (RFC 5322 headers) rather than a pasted body."""
    head = text.lstrip()[:20000].split("\n\n", 1)[0].split("\r\n\r\n", 1)[0]
    names = {m.group(1).lower() for m in re.finditer(r"(?m)^([A-Za-z][A-Za-z0-9-]{1,40}):", head)}
    return "from" in names and bool(names & {"received", "message-id", "mime-version",
                                               "dkim-signature", "return-path", "content-type",
                                               "delivered-to", "authentication-results"})


def parse_email(raw: bytes) -> ParsedMessage:
    """Read a raw message. Raises Unparseable when it has no header fields."""
    if not raw.strip():
        raise Unparseable("the message is empty")
    try:
        message = message_from_bytes(raw, policy=compat32)
    except Exception as exc:
        raise Unparseable(f"the message cannot be read: {type(exc).__name__}") from exc
    if not message.keys():
        raise Unparseable("no header fields were found: this is not an email message")
    parsed = ParsedMessage(is_email=True, raw=raw)
    parsed.defects = len(message.defects)
    _read_headers(message, parsed)
    plain: list[str] = []
    html: list[str] = []
    _walk(message, parsed, plain, html, 0, [0])
    _fill_bodies(parsed, "\n".join(plain), html)
    return parsed


def parse_text(text: str, *, depth: int = 0) -> ParsedMessage:
    """A pasted body or SMS (or an inline-forwarded one), with its links and quoted headers."""
    text = text[:_MAX_TEXT]
    parsed = ParsedMessage(is_email=False)
    if "<" in text and re.search(r"(?i)<(?:html|body|div|p|a\s|table|br)\b", text):
        _fill_bodies(parsed, "", [text], depth=depth)
    else:
        _fill_bodies(parsed, text, [], depth=depth)
    return parsed


def _read_headers(message: Message, parsed: ParsedMessage) -> None:
    def get(name: str) -> str:
        try:
            return header_text(message.get(name))
        except Exception:
            return ""

    parsed.from_ = parse_from(get("From"))
    parsed.reply_to = _addresses(get("Reply-To"))
    return_path = _addresses(get("Return-Path"))
    parsed.return_path = return_path[0] if return_path else None
    sender = _addresses(get("Sender"))
    parsed.sender = sender[0] if sender else None
    parsed.subject = get("Subject")[:2000]
    parsed.message_id = get("Message-ID").strip() or None
    parsed.reference_header = get("X-ContactGuard-Reference").strip() or None
    for value in message.get_all("DKIM-Signature") or []:
        match = re.search(r"(?:^|;)\s*d\s*=\s*([^;\s]+)", str(value))
        if match:
            parsed.dkim_domains.append(normalize_host(match.group(1)))


def _walk(part: Message, parsed: ParsedMessage, plain: list[str], html: list[str], depth: int,
          count: list[int]) -> None:
    count[0] += 1
    if depth > _MAX_DEPTH or count[0] > _MAX_PARTS:
        return
    try:
        ctype = part.get_content_type()
    except Exception:
        ctype = "text/plain"
    filename = _filename(part)
    disposition = _disposition(part)
    if ctype == "message/rfc822" or (filename or "").lower().endswith(".eml"):
        inner = _inner_bytes(part)
        if inner:
            parsed.attached_messages.append(inner)
        parsed.attachments.append(Attachment(filename or "message.eml", ctype))
        return
    if part.is_multipart():
        payload = part.get_payload()
        for child in payload if isinstance(payload, list) else []:
            if isinstance(child, Message):
                _walk(child, parsed, plain, html, depth + 1, count)
        return
    if disposition == "attachment" or (filename and not ctype.startswith("text/")) or \
            (filename and disposition != "inline"):
        parsed.attachments.append(Attachment(filename or "", ctype))
        if ctype == "text/html" or (filename or "").lower().endswith((".html", ".htm", ".shtml")):
            _attached_page(part, parsed)
        return
    if ctype == "text/html":
        html.append(_payload_text(part))
    elif ctype.startswith("text/") or (ctype == "application/octet-stream" and depth == 0):
        plain.append(_payload_text(part))
    elif not ctype.startswith(("image/", "multipart/")):
        parsed.attachments.append(Attachment(filename or "", ctype))


def _attached_page(part: Message, parsed: ParsedMessage) -> None:
    """An attached web page: its links and forms are where a kit sends the victim."""
    facts = read_html(_payload_text(part))
    found: list[_Found] = [(href, label, "href", -1, True) for href, label, _ in facts.anchors]
    found += [(action, "", "form", -1, True) for action in facts.forms if action]
    parsed.attachment_links.extend(_links(found))
    parsed.password_field = parsed.password_field or facts.password_field


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:
        name = None
    if name is None:
        try:
            name = part.get_param("name")  # type: ignore[assignment]
        except Exception:
            name = None
        if isinstance(name, tuple):
            name = name[2]
    return header_text(name)[:300] if name else None


def _disposition(part: Message) -> str | None:
    try:
        return part.get_content_disposition()
    except Exception:
        return None


def _payload_text(part: Message) -> str:
    try:
        data = part.get_payload(decode=True)
    except Exception:
        data = None
    if not isinstance(data, bytes):
        payload = part.get_payload()
        return payload[:_MAX_TEXT] if isinstance(payload, str) else ""
    try:
        charset = part.get_content_charset()
    except Exception:
        charset = None
    return decode_bytes(data[:_MAX_TEXT], charset)


def _inner_bytes(part: Message) -> bytes | None:
    """The attached message as bytes (headers kept as they were, for DKIM)."""
    payload = part.get_payload()
    try:
        if isinstance(payload, list) and payload and isinstance(payload[0], Message):
            buffer = BytesIO()
            BytesGenerator(buffer, mangle_from_=False, maxheaderlen=0,
                           policy=compat32.clone(linesep="\r\n")).flatten(payload[0])
            return buffer.getvalue()
        data = part.get_payload(decode=True)
        return data if isinstance(data, bytes) and data.strip() else None
    except Exception:
        return None


def _fill_bodies(parsed: ParsedMessage, plain: str, html_parts: list[str], depth: int = 0) -> None:
    parsed.plain = plain.strip()
    urls: list[_Found] = [(url, "", "text", offset, False)
                          for url, offset in _url_offsets(parsed.plain)]
    html_texts: list[str] = []
    base = 0
    for markup in html_parts:
        facts = read_html(markup)
        html_texts.append(facts.text)
        urls += [(href, label, "href", base + offset, True) for href, label, offset in facts.anchors]
        urls += [(action, "", "form", base, True) for action in facts.forms if action]
        parsed.password_field = parsed.password_field or facts.password_field
        parsed.alt_text = (parsed.alt_text + " " + facts.alt_text).strip()
        base += len(facts.text) + 1
    parsed.html_text = "\n".join(html_texts).strip()
    if not parsed.plain:
        known = {found[0] for found in urls}
        urls += [(url, "", "text", offset, True) for url, offset in _url_offsets(parsed.html_text)
                 if url not in known]
    parsed.links = _links(urls)
    parsed.mentioned_hosts = mentioned_hosts(parsed.text)
    if depth < 3:
        _find_forward(parsed, depth)


def _url_offsets(text: str) -> list[tuple[str, int]]:
    found = []
    for url in urls_in(text):
        found.append((url, text.find(url)))
    return found


def _find_forward(parsed: ParsedMessage, depth: int) -> None:
    """Fill ``inline_forward`` from the plain body, else from the HTML's text."""
    for source, in_html in ((parsed.plain, False), (parsed.html_text, True)):
        if not source:
            continue
        found = find_inline_forward(source)
        if found is None:
            continue
        fields, body, start = found
        inner = ParsedMessage(is_email=False)
        inner.from_ = parse_from(fields.get("from", ""))
        inner.subject = fields.get("subject", "")
        inner.plain = body.strip()
        inner.links = [link for link in parsed.links
                       if link.in_html == in_html and link.offset >= start]
        inner.mentioned_hosts = mentioned_hosts(body)
        if depth + 1 < 3:
            _find_forward(inner, depth + 1)
        parsed.inline_forward = inner
        parsed.forward_note = source[:start][:20000]
        return

