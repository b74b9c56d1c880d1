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
        "de": "Dies ist eine veränderte Kopie einer Nachricht von {brand}: Text, Code oder Links "
              "wurden geändert, oder sie war für jemand anderen bestimmt. Handeln Sie nicht danach.",
        "es": "Es una copia alterada de un mensaje que envió {brand}: se cambiaron su texto, su "
              "código o sus enlaces, o iba dirigido a otra persona. No actúe según su contenido.",
        "pt": "Esta é uma cópia alterada de uma mensagem enviada por {brand}: o texto, o código ou "
              "os links foram mudados, ou ela era destinada a outra pessoa. Não siga o que ela "
              "pede.",
        "fr": "C'est une copie modifiée d'un message envoyé par {brand} : son texte, son code ou "
              "ses liens ont été changés, ou il était destiné à quelqu'un d'autre. N'y donnez pas "
              "suite.",
    },
    ReasonCode.SPOOFED_FROM: {
        "en": "The sender address uses a {brand} domain, but the message does not carry "
              "{brand}'s valid signature: the sender was forged.",
        "zh-Hans": "发件地址使用了 {brand} 的域名，但邮件没有 {brand} 的有效签名：发件人是伪造的。",
        "de": "Die Absenderadresse verwendet eine Domain von {brand}, aber die Nachricht trägt "
              "keine gültige Signatur von {brand}: Der Absender ist gefälscht.",
        "es": "La dirección del remitente usa un dominio de {brand}, pero el mensaje no lleva una "
              "firma válida de {brand}: el remitente está falsificado.",
        "pt": "O endereço do remetente usa um domínio de {brand}, mas a mensagem não tem uma "
              "assinatura válida de {brand}: o remetente foi falsificado.",
        "fr": "L'adresse de l'expéditeur utilise un domaine de {brand}, mais le message ne porte "
              "pas de signature valide de {brand} : l'expéditeur est usurpé.",
    },
    ReasonCode.DKIM_INVALID: {
        "en": "The message carries a {brand} signature (DKIM) that does not verify: it was "
              "changed after sending, or the signature was forged.",
        "zh-Hans": "邮件带有 {brand} 的签名（DKIM），但签名校验失败：邮件在发出后被修改，或签名是伪造的。",
        "de": "Die Nachricht trägt eine Signatur (DKIM) von {brand}, die sich nicht bestätigen "
              "lässt: Sie wurde nach dem Versand verändert, oder die Signatur ist gefälscht.",
        "es": "El mensaje lleva una firma (DKIM) de {brand} que no se puede verificar: se modificó "
              "después del envío o la firma es falsa.",
        "pt": "A mensagem traz uma assinatura (DKIM) de {brand} que não pode ser verificada: ela "
              "foi alterada depois do envio ou a assinatura é falsa.",
        "fr": "Le message porte une signature (DKIM) de {brand} qui ne se vérifie pas : il a été "
              "modifié après l'envoi, ou la signature est falsifiée.",
    },
    ReasonCode.LOOKALIKE_DOMAIN: {
        "en": "A domain in this message imitates a {brand} domain (look-alike letters, a typo "
              "or extra words), but it does not belong to {brand}.",
        "zh-Hans": "邮件中的域名在模仿 {brand} 的域名（形近字符、拼写变体或附加词），但它不属于 {brand}。",
        "de": "Eine Domain in dieser Nachricht ahmt eine Domain von {brand} nach (ähnlich "
              "aussehende Zeichen, ein Tippfehler oder zusätzliche Wörter), gehört aber nicht zu "
              "{brand}.",
        "es": "Un dominio de este mensaje imita un dominio de {brand} (caracteres parecidos, una "
              "errata o palabras añadidas), pero no pertenece a {brand}.",
        "pt": "Um domínio nesta mensagem imita um domínio de {brand} (caracteres parecidos, um erro"
              " de digitação ou palavras extras), mas não pertence a {brand}.",
        "fr": "Un domaine de ce message imite un domaine de {brand} (caractères ressemblants, faute"
              " de frappe ou mots ajoutés), mais il n'appartient pas à {brand}.",
    },
    ReasonCode.BRAND_IN_SUBDOMAIN: {
        "en": "A web address puts {brand}'s name in front of someone else's domain; the "
              "real owner is the part at the end.",
        "zh-Hans": "网址把 {brand} 的名字放在了别人的域名前面；真正的所有者是网址末尾的部分。",
        "de": "Eine Webadresse stellt den Namen von {brand} vor die Domain eines anderen; der "
              "tatsächliche Inhaber ist der Teil am Ende.",
        "es": "Una dirección web pone el nombre de {brand} delante del dominio de otro; el "
              "verdadero propietario es la parte final.",
        "pt": "Um endereço da web coloca o nome de {brand} na frente do domínio de outra pessoa; o "
              "verdadeiro dono é a parte final.",
        "fr": "Une adresse web place le nom de {brand} devant le domaine de quelqu'un d'autre ; le "
              "vrai propriétaire est la partie finale.",
    },
    ReasonCode.DISPLAY_NAME_SPOOF: {
        "en": "The sender's name says {brand}, but the address behind it does not belong "
              "to {brand}.",
        "zh-Hans": "发件人名称显示为 {brand}，但其背后的邮箱地址不属于 {brand}。",
        "de": "Der Absendername lautet {brand}, aber die Adresse dahinter gehört nicht zu {brand}.",
        "es": "El nombre del remitente dice {brand}, pero la dirección que hay detrás no pertenece "
              "a {brand}.",
        "pt": "O nome do remetente diz {brand}, mas o endereço por trás dele não pertence a "
              "{brand}.",
        "fr": "Le nom de l'expéditeur indique {brand}, mais l'adresse derrière n'appartient pas à "
              "{brand}.",
    },
    ReasonCode.ASKS_FOR_CREDENTIALS: {
        "en": "It asks for a password, a verification code, a PIN or card details. {brand} "
              "never asks for these by email, message or phone.",
        "zh-Hans": "它索要密码、验证码、PIN 码或银行卡信息。{brand} 绝不会通过邮件、短信或电话索要这些信息。",
        "de": "Sie fragt nach einem Passwort, einem Bestätigungscode, einer PIN oder Kartendaten. "
              "{brand} fragt danach nie per E-Mail, Nachricht oder Telefon.",
        "es": "Pide una contraseña, un código de verificación, un PIN o datos de tarjeta. {brand} "
              "nunca los pide por correo, mensaje ni teléfono.",
        "pt": "Ela pede uma senha, um código de verificação, um PIN ou dados de cartão. {brand} "
              "nunca pede isso por e-mail, mensagem ou telefone.",
        "fr": "Il demande un mot de passe, un code de vérification, un code PIN ou des données de "
              "carte. {brand} ne les demande jamais par e-mail, message ou téléphone.",
    },
    ReasonCode.ASKS_FOR_REPLY: {
        "en": "It asks you to reply. {brand} never asks you to reply to a notice: nothing is "
              "done by email; open your dashboard the way you usually do.",
        "zh-Hans": "它要求您回复。{brand} 从不要求您回复通知：任何事项都不会通过邮件办理；"
                   "请按平时的方式打开您的后台。",
        "de": "Sie fordert Sie zu einer Antwort auf. {brand} bittet nie darum, auf eine Mitteilung "
              "zu antworten: Nichts wird per E-Mail erledigt; öffnen Sie Ihr Dashboard wie gewohnt.",
        "es": "Le pide que responda. {brand} nunca le pide responder a un aviso: nada se gestiona "
              "por correo; abra su panel como lo hace siempre.",
        "pt": "Ela pede que você responda. {brand} nunca pede que você responda a um aviso: nada é "
              "resolvido por e-mail; abra seu painel como de costume.",
        "fr": "Il vous demande de répondre. {brand} ne vous demande jamais de répondre à un avis : "
              "rien ne se fait par e-mail ; ouvrez votre tableau de bord comme d'habitude.",
    },
    ReasonCode.LINK_TEXT_MISMATCH: {
        "en": "A link shows one address but leads to another.",
        "zh-Hans": "有链接显示的是一个网址，实际却指向另一个网址。",
        "de": "Ein Link zeigt eine Adresse an, führt aber zu einer anderen.",
        "es": "Un enlace muestra una dirección pero lleva a otra.",
        "pt": "Um link mostra um endereço, mas leva a outro.",
        "fr": "Un lien affiche une adresse mais mène à une autre.",
    },
    ReasonCode.FOREIGN_LINKS: {
        "en": "It links to websites that do not belong to {brand}.",
        "zh-Hans": "它包含指向非 {brand} 网站的链接。",
        "de": "Sie enthält Links zu Websites, die nicht zu {brand} gehören.",
        "es": "Contiene enlaces a sitios web que no pertenecen a {brand}.",
        "pt": "Ela contém links para sites que não pertencem a {brand}.",
        "fr": "Il contient des liens vers des sites qui n'appartiennent pas à {brand}.",
    },
    ReasonCode.URL_SHORTENER: {
        "en": "It hides where a link goes behind a link-shortening service.",
        "zh-Hans": "它用短链接服务隐藏了链接的真实去向。",
        "de": "Sie verbirgt das Ziel eines Links hinter einem Linkkürzungsdienst.",
        "es": "Oculta el destino de un enlace tras un servicio de acortamiento de enlaces.",
        "pt": "Ela esconde o destino de um link atrás de um serviço encurtador de links.",
        "fr": "Il cache la destination d'un lien derrière un service de raccourcissement d'URL.",
    },
    ReasonCode.RISKY_ATTACHMENT: {
        "en": "It has an attachment that can run code or open a fake sign-in page (web page, "
              "script, program, disk image or archive). Do not open it.",
        "zh-Hans": "它带有可能运行代码或打开虚假登录页的附件（网页、脚本、程序、磁盘映像或压缩包）。"
                   "请勿打开。",
        "de": "Sie hat einen Anhang, der Code ausführen oder eine gefälschte Anmeldeseite öffnen "
              "kann (Webseite, Skript, Programm, Datenträgerabbild oder Archiv). Öffnen Sie ihn "
              "nicht.",
        "es": "Tiene un adjunto que puede ejecutar código o abrir una página de inicio de sesión "
              "falsa (página web, script, programa, imagen de disco o archivo comprimido). No lo "
              "abra.",
        "pt": "Ela tem um anexo que pode executar código ou abrir uma página de login falsa (página"
              " web, script, programa, imagem de disco ou arquivo compactado). Não o abra.",
        "fr": "Il contient une pièce jointe qui peut exécuter du code ou ouvrir une fausse page de "
              "connexion (page web, script, programme, image disque ou archive). Ne l'ouvrez pas.",
    },
    ReasonCode.REPLY_TO_MISMATCH: {
        "en": "Replies would go to a different address than the sender's.",
        "zh-Hans": "回复会发送到与发件人不同的地址。",
        "de": "Antworten würden an eine andere Adresse gehen als die des Absenders.",
        "es": "Las respuestas irían a una dirección distinta de la del remitente.",
        "pt": "As respostas iriam para um endereço diferente do remetente.",
        "fr": "Les réponses iraient à une autre adresse que celle de l'expéditeur.",
    },
    ReasonCode.RETURN_PATH_MISMATCH: {
        "en": "The message was sent from a different domain than the one in its From address.",
        "zh-Hans": "邮件的实际发送域名与发件人地址中的域名不一致。",
        "de": "Die Nachricht wurde von einer anderen Domain versendet als der in ihrer "
              "Absenderadresse.",
        "es": "El mensaje se envió desde un dominio distinto del de su dirección de remitente.",
        "pt": "A mensagem foi enviada de um domínio diferente do que aparece no endereço do "
              "remetente.",
        "fr": "Le message a été envoyé depuis un autre domaine que celui de son adresse "
              "d'expéditeur.",
    },
    ReasonCode.URGENCY: {
        "en": "It pressures you to act fast or threatens your account, a common trick to "
              "stop you from checking.",
        "zh-Hans": "它催促您尽快行动或以账户受限相威胁，这是让您来不及核实的常见手法。",
        "de": "Sie drängt Sie zur Eile oder droht mit Folgen für Ihr Konto – ein häufiger Trick, "
              "damit Sie nicht nachprüfen.",
        "es": "Le presiona para actuar rápido o amenaza su cuenta, un truco habitual para que no lo"
              " compruebe.",
        "pt": "Ela pressiona você a agir rápido ou ameaça sua conta, um truque comum para impedir "
              "que você verifique.",
        "fr": "Il vous presse d'agir vite ou menace votre compte, une ruse courante pour vous "
              "empêcher de vérifier.",
    },
    ReasonCode.NOT_IN_LEDGER: {
        "en": "{brand} has no record of sending this message.",
        "zh-Hans": "{brand} 没有发送过这条消息的记录。",
        "de": "{brand} hat keinen Nachweis, diese Nachricht gesendet zu haben.",
        "es": "{brand} no tiene constancia de haber enviado este mensaje.",
        "pt": "{brand} não tem registro de ter enviado esta mensagem.",
        "fr": "{brand} n'a aucune trace de l'envoi de ce message.",
    },
}


#: Languages the checker explains itself in.
READER_LOCALES = ("en", "zh-Hans", "de", "es", "pt", "fr")


def reader_locale(tag: str) -> str | None:
    """The checker's language for a BCP 47 tag (``zh-CN`` -> ``zh-Hans``), None if not one."""
    lowered = tag.strip().replace("_", "-").lower()
    primary = lowered.split("-")[0]
    if primary == "zh":
        return "zh-Hans" if message_locale(lowered) == "zh-Hans" else None
    return primary if primary in READER_LOCALES else None


def reason_message(code: ReasonCode, locale: str, brand: str) -> str:
    """The explanation of ``code`` in ``locale`` (English when not supported)."""
    texts = MESSAGES[code]
    return texts.get(reader_locale(locale) or "en", texts["en"]).format(brand=brand)


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
