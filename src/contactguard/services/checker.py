"""Is this message genuine? One use case, called by the API, the CLI, the Seller Center and
console pages, and the inbound-mail handler alike: :func:`check_message`.

- **genuine**: the message matches the sent ledger and, for an email with its headers, carries
  a valid DKIM signature made with our own keys whose body is the one the ledger recorded.
  A forwarded copy (attached, or inline below quoted headers) is unwrapped first; a copy
  without headers (inline forward, pasted text, SMS) must match the ledger's keyed word
  fingerprints word for word, with the same links.
- **phishing**: it claims to be the platform (its name in the sender, subject or text; a
  brand domain or a look-alike in From, Reply-To, Return-Path, Sender or links; our
  reference format) and is not genuine. Every warning sign found is named.
- **unrelated**: neither; strong generic signs (credential requests, disguised links,
  shorteners, risky attachments) are still named.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from contactguard.domain.ledger import (
    ContentMatch,
    LedgerEntry,
    compare_words,
    find_references,
    keyed_hash,
    normalize_reference,
    text_key,
    tokens,
)
from contactguard.domain.phishing import (
    CheckResult,
    DkimOutcome,
    DomainKind,
    MailAddress,
    MatchedMessage,
    ParsedMessage,
    Reason,
    ReasonCode,
    Sign,
    Verdict,
    order_signs,
    reason_message,
)
from contactguard.domain.phishing_lists import FREE_MAILBOXES, SHORTENERS, risky_attachment
from contactguard.domain.phishing_rules import (
    asks_for_credentials,
    asks_for_reply,
    normalize,
    urgency,
)
from contactguard.errors import (
    ConfigurationError,
    FieldError,
    MessageTooLarge,
    MessageUnparseable,
    ValidationFailed,
)
from contactguard.ports import MessageInspector
from contactguard.services.deps import Deps
from contactguard.services.lookup import require_account

#: A common mail size limit; larger input is refused before it is read further.
MAX_MESSAGE_BYTES = 25 * 1024 * 1024
_EDGE_TOLERANCE = 15  # unmatched word runs allowed around a copy (a client's chrome, a greeting)
_MAX_UNWRAP = 3
_MAX_LINE_KEYS = 20
_UNRELATED_SIGNS = frozenset({ReasonCode.ASKS_FOR_CREDENTIALS, ReasonCode.LINK_TEXT_MISMATCH,
                              ReasonCode.URL_SHORTENER, ReasonCode.RISKY_ATTACHMENT})
_STRONG_SIGNS = frozenset({ReasonCode.ASKS_FOR_CREDENTIALS, ReasonCode.ASKS_FOR_REPLY,
                           ReasonCode.URGENCY, ReasonCode.LINK_TEXT_MISMATCH,
                           ReasonCode.URL_SHORTENER, ReasonCode.RISKY_ATTACHMENT})
_SUBJECT_PREFIX = re.compile(r"^(?:\s*(?:\[[^\]]{0,40}\]|\([^)]{0,40}\)|(?:re|fw|fwd|aw|wg|tr|rv|sv"
                             r"|vs|enc|res|r|回复|回覆|答复|转发|轉寄|転送)\s*[:\uff1a]))+\s*",
                             re.IGNORECASE)


def check_message(deps: Deps, *, raw: bytes | None = None, text: str | None = None,
                  reference: str | None = None, locale: str = "en",
                  account: str | None = None) -> CheckResult:
    """Judge a raw message (RFC 5322 bytes), a pasted text (a body or an SMS) or a reference.

    ``locale`` words the reasons; ``account`` (an external id) limits the check to what that
    account was sent, as the Seller Center does: another account's message is not genuine
    for it. Raises ValidationFailed (not exactly one input, bad reference, empty text),
    MessageTooLarge (over 25 MB), MessageUnparseable (not an email), AccountNotFound.
    """
    if sum(value is not None for value in (raw, text, reference)) != 1:
        raise ValidationFailed("give exactly one of raw, text or reference", errors=[
            FieldError("", "give exactly one of 'raw', 'text' or 'reference'", "one_of")])
    inspector = _inspector(deps)
    account_id = None
    if account is not None:
        with deps.reader() as uow:
            account_id = require_account(uow, account).id
    if reference is not None:
        return _check_reference(deps, reference, locale, account_id)
    if raw is not None:
        _check_size(len(raw))
        message = inspector.parse_email(raw)
    else:
        assert text is not None
        _check_size(len(text) if len(text) * 4 <= MAX_MESSAGE_BYTES
                    else len(text.encode("utf-8", "surrogatepass")))
        text = text.encode("utf-8", "replace").decode("utf-8")  # lone surrogates from JSON
        if not text.strip():
            raise ValidationFailed("the text is empty", errors=[
                FieldError("text", "paste the message's text", "empty")])
        message = _parse_text(inspector, text)
    return _judge(deps, inspector, _unwrap(inspector, message, 0), locale, account_id)


def check_report(deps: Deps, raw: bytes, *, locale: str = "en"
                 ) -> tuple[CheckResult, ParsedMessage]:
    """Judge a message forwarded to the report address; returns the verdict and the message
    judged. The reporter's forward is only a wrapper: the forwarded message (attached, or
    inline below quoted headers) is judged whatever the reporter's note or subject says.
    Raises MessageTooLarge, MessageUnparseable."""
    _check_size(len(raw))
    inspector = _inspector(deps)
    inner = _reported(inspector, inspector.parse_email(raw))
    return _judge(deps, inspector, inner, locale, None), inner


def _reported(inspector: MessageInspector, message: ParsedMessage) -> ParsedMessage:
    for attached in message.attached_messages[:3]:
        try:
            return _unwrap(inspector, inspector.parse_email(attached), 1)
        except MessageUnparseable:
            continue
    if message.inline_forward is not None:
        return _unwrap(inspector, message.inline_forward, 1)
    return message


def _inspector(deps: Deps) -> MessageInspector:
    if deps.inspector is None:
        raise ConfigurationError("the message checker is not configured (Deps.inspector)")
    return deps.inspector


def _check_size(size: int) -> None:
    if size > MAX_MESSAGE_BYTES:
        raise MessageTooLarge(f"the message is {size:,} bytes; the checker takes up to "
                              f"{MAX_MESSAGE_BYTES:,} (25 MB)")


def _parse_text(inspector: MessageInspector, text: str) -> ParsedMessage:
    """A pasted text; a pasted message source (with its headers) is read as an email."""
    if inspector.looks_like_raw(text):
        try:
            return inspector.parse_email(text.encode("utf-8", "replace"))
        except MessageUnparseable:
            pass
    return inspector.parse_text(text)


def _unwrap(inspector: MessageInspector, message: ParsedMessage, depth: int) -> ParsedMessage:
    """The message being asked about: a forwarded one when a reader forwarded it to us.

    A message whose own sender claims to be the platform is judged itself (an attached copy
    of a genuine email does not make a phishing email genuine).
    """
    if depth >= _MAX_UNWRAP or _sender_claims_brand(inspector, message):
        return message
    if message.attached_messages and not _pushes(message.subject + "\n" + message.text):
        for inner in message.attached_messages:
            try:
                parsed = inspector.parse_email(inner)
            except MessageUnparseable:
                continue
            return _unwrap(inspector, parsed, depth + 1)
    if message.inline_forward is not None and not _pushes(message.forward_note):
        return _unwrap(inspector, message.inline_forward, depth + 1)
    return message


def _attaches_brand_mail(inspector: MessageInspector, message: ParsedMessage) -> bool:
    """An attached email from the platform (a prop, when the message was not unwrapped)."""
    for inner in message.attached_messages[:3]:
        try:
            if _sender_claims_brand(inspector, inspector.parse_email(inner)):
                return True
        except MessageUnparseable:
            continue
    return False


def _pushes(note: str) -> bool:
    """Whether a forwarder's own words ask for a reply, credentials or haste: then the message
    is judged as a whole (a genuine copy quoted below a phishing note is no proof)."""
    if not note.strip():
        return False
    normalized = normalize(note)
    return bool(asks_for_reply(normalized) or asks_for_credentials(normalized)
                or urgency(normalized))


def _sender_claims_brand(inspector: MessageInspector, message: ParsedMessage) -> bool:
    sender = message.from_
    if sender is None:
        return False
    if sender.domain and inspector.classify(sender.domain).kind in {
            DomainKind.BRAND, DomainKind.LOOKALIKE, DomainKind.BRAND_IN_SUBDOMAIN}:
        return True
    return bool(sender.name and inspector.brand_in_display_name(sender.name))


# --- the verdict ----------------------------------------------------------------------------


def _judge(deps: Deps, inspector: MessageInspector, message: ParsedMessage, locale: str,
           account_id: int | None) -> CheckResult:
    references = _references(message)
    with deps.reader() as uow:
        entries: list[LedgerEntry] = uow.ledger.find(references=references,
                                                     message_id=message.message_id)
        if not entries and not message.is_email:
            entries = uow.ledger.find(text_keys=_line_keys(deps.ledger_key, message))
    dkim = (inspector.verify_dkim(message.raw)
            if message.is_email and message.raw is not None and inspector.signs_for_us(message)
            else DkimOutcome(present=False, valid=False))
    entry, tampered = _match(deps.ledger_key, message, entries, dkim, account_id)
    if entry is not None:
        return CheckResult(Verdict.GENUINE, [], MatchedMessage(
            reference=entry.reference, channel=entry.channel, sent_at=entry.sent_at,
            recipient=entry.recipient))
    signs, claims = _signs(inspector, message, dkim, in_ledger=bool(entries))
    if references or entries:
        claims.append("reference")
    if _attaches_brand_mail(inspector, message):
        claims.append("attached")
    if tampered:
        signs.append(Sign(ReasonCode.TAMPERED_COPY, tampered))
    if dkim.present and not dkim.valid:
        signs.append(Sign(ReasonCode.DKIM_INVALID, dkim.detail))
    if claims == ["text"] and not any(sign.code in _STRONG_SIGNS for sign in signs):
        claims = []  # naming the platform in passing, with no warning sign, is not posing as it
    if claims or tampered:
        if not entries:
            signs.append(Sign(ReasonCode.NOT_IN_LEDGER, _lookup_evidence(message, references)))
        verdict = Verdict.PHISHING
    else:
        signs = [sign for sign in signs if sign.code in _UNRELATED_SIGNS]
        verdict = Verdict.UNRELATED
    brand = deps.branding.platform_name
    reasons = [Reason(sign.code, reason_message(sign.code, locale, brand), sign.evidence)
               for sign in order_signs(signs)]
    return CheckResult(verdict, reasons, None)


def _check_reference(deps: Deps, value: str, locale: str, account_id: int | None) -> CheckResult:
    reference = normalize_reference(value)
    if reference is None:
        raise ValidationFailed("not a reference code", errors=[FieldError(
            "reference", "expected a reference code such as CG-7KQ4-M9XD", "invalid_reference")])
    with deps.reader() as uow:
        entries = uow.ledger.find(references=[reference])
    brand = deps.branding.platform_name
    if not entries:
        return CheckResult(Verdict.PHISHING, [Reason(
            ReasonCode.NOT_IN_LEDGER, reason_message(ReasonCode.NOT_IN_LEDGER, locale, brand),
            f"no message with reference {reference}")], None)
    entry = entries[0]
    if account_id is not None and entry.account_id != account_id:
        return CheckResult(Verdict.PHISHING, [Reason(
            ReasonCode.TAMPERED_COPY, reason_message(ReasonCode.TAMPERED_COPY, locale, brand),
            f"{reference} was sent to another account")], None)
    return CheckResult(Verdict.GENUINE, [], MatchedMessage(
        reference=entry.reference, channel=entry.channel, sent_at=entry.sent_at,
        recipient=entry.recipient))


def _references(message: ParsedMessage) -> list[str]:
    found: list[str] = []
    if message.reference_header:
        normalized = normalize_reference(message.reference_header)
        if normalized:
            found.append(normalized)
    if message.message_id:
        found += find_references(message.message_id, 1)
    found += find_references(message.subject + "\n" + message.text[:200_000])
    return list(dict.fromkeys(found))


def _line_keys(key: bytes, message: ParsedMessage) -> list[str]:
    """Keys of every run of lines of a pasted text (an SMS pasted with a line around it)."""
    lines = [line for line in (message.plain or message.html_text).splitlines() if line.strip()]
    lines = lines[:_MAX_LINE_KEYS]
    keys: dict[str, None] = {}
    for start in range(len(lines)):
        for end in range(start + 1, len(lines) + 1):
            found = text_key(key, "\n".join(lines[start:end]))
            if found:
                keys[found] = None
    return list(keys)


def _lookup_evidence(message: ParsedMessage, references: list[str]) -> str:
    if references:
        return "no message with reference " + ", ".join(references[:3])
    if message.message_id:
        return f"no message with Message-ID {message.message_id[:120]}"
    return ""


# --- is it one of ours? -----------------------------------------------------------------------


def _match(key: bytes, message: ParsedMessage, entries: list[LedgerEntry], dkim: DkimOutcome,
           account_id: int | None) -> tuple[LedgerEntry | None, str | None]:
    """The ledger entry the message is a faithful copy of, else why it is not (tampered)."""
    if not entries:
        return None, None
    if dkim.valid:
        for entry in entries:
            if entry.channel != "email" or (entry.message_id and message.message_id
                                             and entry.message_id != message.message_id):
                continue
            if entry.body_hash and dkim.body_digest and \
                    keyed_hash(key, dkim.body_digest) != entry.body_hash:
                return None, f"{entry.reference}: the signed body is not the one that was sent"
            if account_id is not None and entry.account_id != account_id:
                return None, f"{entry.reference} was sent to another account"
            return entry, None
    problem = None
    for entry in entries:
        why = _compare_content(key, message, entry)
        if why is None:
            if account_id is not None and entry.account_id != account_id:
                return None, f"{entry.reference} was sent to another account"
            if message.is_email:
                return None, None  # the words are ours, but the email is not signed by us
            return entry, None
        problem = problem or f"{entry.reference}: {why}"
    return None, problem


def _compare_content(key: bytes, message: ParsedMessage, entry: LedgerEntry) -> str | None:
    """None when the message's text, subject and links are those of ``entry``; else why not."""
    if not entry.shingles:  # recorded without its content (a crash right after sending)
        return "its content cannot be confirmed" if _risky(message.text) or message.links \
            else None
    compared = 0
    for variant in (message.plain, message.html_text):  # each part shown must be ours
        words = tokens(variant)
        if not words:
            continue
        compared += 1
        why = _words_problem(compare_words(key, words, entry.shingles))
        if why:
            return why
    if not compared:
        return "its text is not the text that was sent"
    subject_words = tokens(_SUBJECT_PREFIX.sub("", message.subject))
    if subject_words:
        subject = compare_words(key, subject_words, entry.shingles)
        if subject.matched == 0 or subject.gap or subject.tail or subject.lead > 3:
            return "the subject was changed"
    sent = {_link_key(url) for url in entry.links}
    for link in message.links:
        if link.kind != "nested" and _link_key(link.url) not in sent:
            return f"a link was added or changed: {link.url[:100]}"
    return None


def _words_problem(found: ContentMatch) -> str | None:
    if found.matched == 0:
        return "its text is not the text that was sent"
    if found.gap:
        return "words were changed, removed or added"
    if found.lead > _EDGE_TOLERANCE or (found.lead and _risky(found.lead_text)):
        return "text was added before the original"
    if found.tail > _EDGE_TOLERANCE or (found.tail and _risky(found.tail_text)):
        return "text was added after the original"
    return None


def _risky(text: str) -> bool:
    normalized = normalize(text)
    return bool(asks_for_reply(normalized) or asks_for_credentials(normalized)
                or urgency(normalized) or re.search(r"(?i)https?://|www\.", text))


def _link_key(url: str) -> str:
    return url.strip().rstrip("/").lower()


# --- warning signs ----------------------------------------------------------------------------


def _signs(inspector: MessageInspector, message: ParsedMessage, dkim: DkimOutcome, *,
           in_ledger: bool) -> tuple[list[Sign], list[str]]:
    """Every warning sign, and why the message claims to be the platform (empty: it does not)."""
    signs: list[Sign] = []
    claims: list[str] = []

    def domain_sign(host: str, what: str) -> DomainKind:
        found = inspector.classify(host)
        if found.kind is DomainKind.BRAND:
            claims.append(what)
        elif found.kind is DomainKind.LOOKALIKE:
            claims.append(what)
            signs.append(Sign(ReasonCode.LOOKALIKE_DOMAIN, found.detail))
        elif found.kind is DomainKind.BRAND_IN_SUBDOMAIN:
            claims.append(what)
            signs.append(Sign(ReasonCode.BRAND_IN_SUBDOMAIN, found.detail))
        return found.kind

    sender = message.from_
    from_registered = inspector.registered(sender.domain) if sender and sender.domain else ""
    from_kind = DomainKind.NONE
    if sender is not None and sender.domain:
        from_kind = domain_sign(sender.domain, "from")
        if from_kind is DomainKind.BRAND and not dkim.valid and (message.is_email or not in_ledger):
            signs.append(Sign(ReasonCode.SPOOFED_FROM, sender.address))
    if sender is not None and sender.name and inspector.brand_in_display_name(sender.name):
        claims.append("display name")
        if sender.domain and from_kind is not DomainKind.BRAND:
            signs.append(Sign(ReasonCode.DISPLAY_NAME_SPOOF,
                              f'"{sender.name[:80]}" <{sender.address}>{_free(inspector, sender)}'))
    elif sender is not None and sender.domain and from_kind is DomainKind.FOREIGN and \
            inspector.brand_in_display_name(sender.address.partition("@")[0]):
        claims.append("address")  # amazon.support@gmail.com: the name is in the address itself
        signs.append(Sign(ReasonCode.DISPLAY_NAME_SPOOF,
                          f"{sender.address}{_free(inspector, sender)}"))
    for address in message.reply_to:
        domain_sign(address.domain, "reply-to")
        if from_registered and inspector.registered(address.domain) != from_registered:
            signs.append(Sign(ReasonCode.REPLY_TO_MISMATCH,
                              f"{address.address}{_free(inspector, address)}"))
    if message.return_path is not None and message.return_path.domain:
        path = message.return_path
        domain_sign(path.domain, "return-path")
        if from_registered and inspector.registered(path.domain) != from_registered:
            signs.append(Sign(ReasonCode.RETURN_PATH_MISMATCH,
                              f"{path.address} (From: {sender.domain if sender else ''})"))
    if message.sender is not None and message.sender.domain:
        domain_sign(message.sender.domain, "sender")
    _link_signs(inspector, message, signs, claims, domain_sign)
    for host in message.mentioned_hosts:
        domain_sign(host, "text")
    if inspector.brand_mention(message.subject):
        claims.append("subject")
    elif inspector.brand_mention(message.text) or inspector.brand_mention(message.alt_text):
        claims.append("text")
    normalized = normalize(message.subject + "\n" + message.text)
    for code, found in ((ReasonCode.ASKS_FOR_REPLY, asks_for_reply(normalized)),
                        (ReasonCode.ASKS_FOR_CREDENTIALS, asks_for_credentials(normalized)
                         or ("a form asking for a password" if message.password_field else None)),
                        (ReasonCode.URGENCY, urgency(normalized))):
        if found:
            signs.append(Sign(code, found))
    for attachment in message.attachments:
        risky = risky_attachment(attachment)
        if risky:
            signs.append(Sign(ReasonCode.RISKY_ATTACHMENT, risky))
    return signs, claims


def _link_signs(inspector: MessageInspector, message: ParsedMessage, signs: list[Sign],
                claims: list[str], domain_sign: Callable[[str, str], DomainKind]) -> None:
    foreign: dict[str, None] = {}
    for link in [*message.links, *message.attachment_links]:
        if link.url.lower().startswith("mailto:"):
            domain = link.url.partition("@")[2].split("?")[0].strip().lower()
            if domain:
                domain_sign(domain, "mailto")
            continue
        if not link.host:
            continue
        kind = domain_sign(link.host, "link")
        registered = inspector.registered(link.host)
        if kind in {DomainKind.FOREIGN, DomainKind.NONE}:
            foreign[link.host] = None
        if registered in SHORTENERS or link.host in SHORTENERS:
            signs.append(Sign(ReasonCode.URL_SHORTENER, link.url[:120]))
        if link.kind == "href" and "." in link.text:
            for shown in inspector.hosts_in(link.text)[:3]:
                if inspector.registered(shown) != registered:
                    signs.append(Sign(ReasonCode.LINK_TEXT_MISMATCH,
                                      f"shows {shown}, opens {link.host}"))
                    if inspector.classify(shown).kind is not DomainKind.FOREIGN:
                        claims.append("link text")
                    break
    if foreign:
        signs.append(Sign(ReasonCode.FOREIGN_LINKS, ", ".join(list(foreign)[:6])))


def _free(inspector: MessageInspector, address: MailAddress) -> str:
    registered = inspector.registered(address.domain) if address.domain else ""
    return " (a free mailbox)" if registered in FREE_MAILBOXES or address.domain in \
        FREE_MAILBOXES else ""
