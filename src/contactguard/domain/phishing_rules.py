"""Keyword rules: does a text ask for a reply, for credentials, or press for urgency?

English, Simplified (and common Traditional) Chinese, German, Spanish, Portuguese and French.
Texts are compared casefolded, without accents, zero-width characters or Cyrillic/Greek
look-alike letters, and with links and addresses removed, so ``Pаsswοrd`` (Cyrillic а, Greek
ο), ``contraseña`` and ``r e p l y`` tricks do not slip through. A phrase negated just before
it ("you do *not* need to reply", "we will *never* ask for your code", "请勿回复") does not
count: genuine notices say exactly that.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterator

from contactguard.domain.ledger import clean_text

_MAX_CHARS = 200_000  # phishing says what it wants early; huge bodies are cut for speed

# Cyrillic and Greek letters that look Latin (a small, fixed subset; the adapters have more).
_LOOKALIKE = str.maketrans({
    "а": "a", "в": "b", "е": "e", "ё": "e", "к": "k", "м": "m", "н": "h", "о": "o", "р": "p",
    "с": "c", "т": "t", "у": "y", "х": "x", "і": "i", "ї": "i", "ј": "j", "ѕ": "s", "ԁ": "d",
    "ԛ": "q", "ԝ": "w", "ɡ": "g", "ɑ": "a", "α": "a", "β": "b", "ε": "e", "ι": "i", "κ": "k",
    "ν": "v", "ο": "o", "ρ": "p", "τ": "t", "υ": "u", "χ": "x", "ϲ": "c", "ı": "i",
})
_COMBINING = re.compile(r"[\u0300-\u036f\u1ab0-\u1aff\u1dc0-\u1dff\u20d0-\u20ff\ufe20-\ufe2f]")
_ADDRESSES = re.compile(r"(?i)\b(?:https?://|www\.|mailto:)\S+"
                        r"|[\w.+-]{1,64}@[\w-]{1,63}(?:\.[\w-]{1,63}){1,8}")
_CLAUSE = re.compile(r"[,;:\uff0c\uff1b\uff1a]")

# Negation just before a phrase: within its clause, a few words (or CJK characters) back.
_NEGATION = re.compile(
    r"\b(?:not|never|no|don'?t|doesn'?t|won'?t|needn'?t|without|nor|nobody"
    r"|nicht|nie|niemals|kein|keine|keinen|ohne"
    r"|nunca|jamas|sin|nao|jamais|sem|ne|n'|pas|aucun|sans)\b")
_NEGATION_CJK = re.compile(
    r"不要|不用|不必|不需|不会|不會|请勿|請勿|切勿|勿|无需|无须|無需|無須|毋须|绝不|絕不|从不|從不|决不|決不"
    r"|并不|並不|没有|沒有|未曾|不应|不應|不(?=[回答提告输輸索填发發透泄说說分转轉])")
# "If you do not reply, ..." / "如不回复..." threatens rather than negates.
_CONDITIONAL = re.compile(
    r"\b(?:if|unless|in case|wenn|falls|sofern|si|se|caso|s')\b|如果|如|若|倘若|要是|假如")


def normalize(text: str) -> str:
    """Casefolded, accent-free, look-alike letters mapped, links and addresses removed."""
    text = clean_text(text[:_MAX_CHARS])
    if not text.isascii():
        text = _COMBINING.sub("", unicodedata.normalize("NFKD", text)).translate(_LOOKALIKE)
    return _ADDRESSES.sub(" ", text)


def _rx(*parts: str) -> re.Pattern[str]:
    return re.compile("|".join(f"(?:{p})" for p in parts))


_REPLY = _rx(
    # en
    r"\b(?:please|kindly|simply|just|pls|plz)\s+(?:\w+\s+)?(?:reply|respond|answer|write back)\b",
    r"\breply(?:ing)?\s+(?:to\s+(?:this|that|our|the|us|me)|back|with|when|once|after|as soon"
    r"|directly|immediately|now|within|by|to confirm|to verify|and|if|yes|\"|')",
    r"^\s*(?:reply|respond)\b",  # at the start of a sentence
    r"\b(?:respond|answer)\s+(?:to\s+)?(?:this|our|the)\s+(?:e-?mail|message|mail|notice)",
    r"\b(?:send|e-?mail|write)\s+(?:us|it|them|this)?\s*back\b",
    r"\b(?:send|write)\s+(?:us\s+)?(?:a|your)\s+(?:reply|response)\b",
    # zh-Hans / zh-Hant
    r"回[复覆](?:此|本|这封|這封|该|該)?(?:邮件|郵件|信息|訊息|消息|短信|本邮件)",
    r"请(?:您)?(?:直接|尽快|儘快|立即)?回[复覆]|請(?:您)?(?:直接|儘快|立即)?回[覆复]",
    r"回[复覆](?:我们|我們|确认|確認|即可|以确认|以確認|“|\")|回信|直接回[复覆]|答复此|完成后(?:请)?回[复覆]",
    # de
    r"\bantworten sie\b|\bbitte\s+(?:\w+\s+)?antworten\b|\bauf diese (?:e-?mail|nachricht) antworten",
    r"\b(?:senden|schicken) sie (?:uns )?(?:ihre|eine) antwort\b|\bschreiben sie (?:uns )?zuruck\b",
    r"\bper (?:e-?mail-?)?antwort\b|\bin ihrer antwort\b",
    # es
    r"\bresponda\b|\bresponde (?:a|este)\b|\bresponder a este (?:correo|mensaje|e-?mail)\b",
    r"\bconteste\b|\bcontestar a este\b|\benvienos (?:una|su) respuesta\b|\brespondiendo a este\b",
    # pt
    r"\bresponder (?:a )?(?:este|esta) (?:e-?mail|mensagem)\b|\brespondendo (?:a )?(?:este|esta)\b",
    r"\benvie-nos (?:uma|sua) resposta\b|\bretorne (?:este|esta)\b",
    # fr
    r"\brepondez\b|\brepondre (?:a|directement a) (?:cet|ce|cette) (?:e-?mail|courriel|message|mail)",
    r"\ben repondant a (?:cet|ce)\b|\bveuillez repondre\b|\benvoyez-nous (?:une|votre) reponse\b",
)

_CREDENTIALS = _rx(
    # en
    r"\bpass(?:word|code|phrase)s?\b|\bpwd\b",
    r"\b(?:one[- ]time|verification|security|authentication|auth|login|sign[- ]in|sms|2fa|otp"
    r"|mfa|access|confirmation|\d[- ]digit|six[- ]digit|authenticator)\s+(?:pass)?codes?\b",
    r"\botps?\b|\b2fa\b|\bmfa\b|\btwo[- ](?:factor|step)\b|\bpins?\b",
    r"\bcard (?:number|details|info|information|data)\b|\b(?:credit|debit|bank) cards?\b",
    r"\bcvv2?\b|\bcvc\b|\bexpiry date\b|\bsecurity number\b",
    r"\b(?:login|log-in|sign[- ]in) (?:details|credentials|information|info|data)\b",
    r"\bcredentials\b|\busername and password\b|\bbank account (?:number|details)\b",
    r"\bsocial security\b|\bssn\b|\brouting number\b|\biban\b",
    # zh
    r"密码|密碼|口令|验证码|驗證碼|校验码|动态码|動態碼|短信码|安全码|确认码|授权码|一次性(?:密码|验证码)",
    r"二次验证|两步验证|兩步驗證|双重验证|雙重驗證|双因素|雙因素|双重认证|谷歌验证|身份验证器",
    r"登录(?:凭证|信息|账号|邮箱)|登入(?:資訊|帳號)|账号(?:和|及|与)密码|帳號(?:和|及|與)密碼",
    r"银行卡|銀行卡|信用卡|卡号|卡號|支付密码|网银|身份证号",
    # de
    r"passwort|kennwort|zugangsdaten|anmeldedaten|login-?daten",
    r"(?:bestatigungs|sicherheits|verifizierungs|einmal|authentifizierungs|zugangs|sms-?)code",
    r"einmalpasswort|\btan\b|zwei-faktor|2-faktor|kreditkarte|kartennummer|prufnummer|bankverbindung",
    # es
    r"contrasena|\bclave\b|codigo (?:de verificacion|de seguridad|de un solo uso|de acceso"
    r"|de autenticacion|otp|sms|de confirmacion)",
    r"credenciales|datos de (?:acceso|inicio de sesion|(?:la )?tarjeta)|tarjeta de (?:credito|debito)",
    r"numero de (?:la )?tarjeta|doble factor|dos factores|dos pasos",
    # pt
    r"\bsenhas?\b|codigo (?:de verificacao|de seguranca|de autenticacao|de acesso|de confirmacao"
    r"|otp|sms|unico)",
    r"credenciais|dados de (?:acesso|login|cartao)|cartao de (?:credito|debito)|numero do cartao",
    r"dois fatores|duas etapas",
    # fr
    r"mots? de passe|code (?:de verification|de securite|a usage unique|d'authentification"
    r"|d'acces|de confirmation|otp|sms|temporaire)",
    r"identifiants|donnees de connexion|carte (?:bancaire|de credit|de paiement)"
    r"|numero de (?:la )?carte|cryptogramme|double authentification|deux facteurs",
)

_ASK = _rx(
    r"\b(?:enter|provide|send|share|confirm|verify|update|submit|reply|respond|type|fill|give"
    r"|tell|include|input|validate|re-?enter|disclose|forward|supply|write|attach|read out"
    r"|let us know|need|require|requires|required|must|please|kindly|bitte|por favor|favor"
    r"|veuillez|merci de)\b|请|請",
    r"提供|输入|輸入|发送|發送|发给|發給|告知|告诉|告訴|填写|填寫|填入|回复|回覆|确认|確認|提交|验证"
    r"|驗證|更新|附上|报上|转发|轉發|说出|說出|索要|索取|核实|核實|需要",
    r"\bgeben sie\b|eingeben|\bsenden\b|schicken|mitteilen|bestatigen|aktualisieren|ubermitteln"
    r"|angeben|\bteilen\b|verifizieren|antworten|\bnennen\b|eintragen|ausfullen",
    r"\bintroduzca\b|\bintroduce\b|\bingrese\b|\bingresa\b|proporcion[ea]|\benvie\b|\benvia\b"
    r"|envienos|confirm[ea]\b|verifi(?:que|ca)\b|actualic?[ea]\b|comparta|facilite|indique"
    r"|escriba|responda|rellene|complete",
    r"\binforme\b|\binsira\b|\bdigite\b|forneca|atualize|compartilhe|\bpreencha\b|\bvalide\b",
    r"saisi(?:ssez|r)|\bentre[zr]\b|indiquez|communiquez|envoye[zr]|confirme[zr]|verifie[zr]"
    r"|mettez a jour|fourni(?:ssez|r)|renseignez|transmettez|repondez|repondre|partagez|validez",
)

_URGENCY = _rx(
    # en
    r"\burgent(?:ly)?\b|\bimmediate(?:ly)?\b|\bright away\b|\bas soon as possible\b|\basap\b",
    r"\bwithin (?:the next )?\d+\s*(?:hours?|hrs?|h|days?|minutes?|mins?)\b"
    r"|\bin the next \d+\s*(?:hours?|days?)\b",
    r"\bby (?:the )?end of (?:the )?(?:day|today)\b|\b(?:final|last) (?:notice|warning|reminder|chance)\b",
    r"\b(?:will|may|could) be (?:permanently |temporarily )?(?:suspended|deactivated|disabled"
    r"|closed|terminated|locked|restricted|removed|deleted|blocked|frozen|banned|limited)\b",
    r"\b(?:account|store|shop|listings?|payouts?) (?:has been|have been|is|are|was|were) "
    r"(?:suspended|restricted|locked|deactivated|disabled|on hold|frozen|limited)\b",
    r"\bfailure to (?:comply|verify|respond|update|confirm|complete)\b|\bact now\b|\btime[- ]sensitive\b",
    r"\bpermanent(?:ly)? (?:suspension|closure|deactivation|ban)\b|\bexpires? today\b",
    # zh
    r"紧急(?!联|聯)|緊急(?!聯|联)|立即|立刻|马上|馬上|尽快|儘快|火速|限时|限時|\d+\s*(?:个|個)?小时内|\d+\s*(?:个|個)?小時內"
    r"|\d+\s*天内|今天内|今日内|当天内",
    r"最后(?:通知|警告|期限|机会|一次)|最後(?:通知|警告|期限|機會)|逾期(?:未|不)|否则|否則",
    r"(?:将|會|会|將)被?(?:暂停|暫停|冻结|凍結|封禁|封号|關閉|关闭|停用|限制|删除|刪除|注销|下架|封店)",
    r"(?:账户|账号|帳戶|帳號|店铺|店鋪)(?:已|已被|将被|將被|将|將)?(?:冻结|凍結|暂停|暫停|封禁|受限|停用)",
    # de
    r"\bdringend\b|\bsofort(?:ig)?\b|\bumgehend\b|\bunverzuglich\b|\bschnellstmoglich\b",
    r"\binnerhalb (?:von |der nachsten )?\d+\s*(?:stunden|tagen|std)\b|\bletzte (?:mahnung|warnung"
    r"|erinnerung|chance|frist)\b",
    r"\b(?:wird|werden|wurde|ist) (?:vorubergehend |dauerhaft )?(?:gesperrt|geschlossen|deaktiviert"
    r"|geloscht|eingeschrankt|suspendiert|blockiert)\b|\bandernfalls\b|kontosperrung",
    # es
    r"\burgente\b|\binmediatamente\b|\bde inmediato\b|\bcuanto antes\b|\blo antes posible\b",
    r"\bdentro de (?:las )?(?:proximas )?\d+\s*(?:horas|dias)\b|\ben las proximas \d+\s*horas\b"
    r"|\bultimo aviso\b",
    r"\b(?:sera|seran|sea|sean|ha sido|han sido|esta|estan) (?:suspendid|desactivad|bloquead"
    r"|cerrad|restringid|eliminad|cancelad)[ao]s?\b|\bde lo contrario\b",
    # pt
    r"\bimediatamente\b|\bo quanto antes\b|\bo mais rapido possivel\b|\bnas proximas \d+\s*horas\b",
    r"\b(?:sera|serao|seja|sejam|foi|foram|esta|estao) (?:suspens|desativad|bloquead|encerrad|restringid"
    r"|cancelad|excluid)[ao]s?\b|\bcaso contrario\b",
    # fr
    r"\bimmediatement\b|\bsans delai\b|\bdes que possible\b|\bau plus vite\b",
    r"\bdans les \d+\s*(?:heures|jours|prochaines heures)\b|\bsous \d+\s*(?:heures|jours|h)\b"
    r"|\bdernier (?:avertissement|rappel|avis|delai)\b",
    r"\b(?:sera|seront|a ete|ont ete|est|sont) (?:suspendu|desactive|bloque|ferme|restreint|supprime"
    r"|resilie)e?s?\b|\bfaute de quoi\b",
)


# Literal stems that every rule's phrases contain: ``str.find`` locates them fast, so the full
# patterns only run on the few sentences that could match.
_REPLY_STEMS = (
    'repl', 'respon', 'answer', 'back', 'antwort', 'zuruck', 'contest', 'repond', 'reponse',
    'respuesta', 'resposta', 'retorne', '回复', '回覆', '答复', '回信',
)
_CREDENTIAL_STEMS = (
    'pass', 'pwd', 'code', 'otp', '2fa', 'mfa', 'two', 'pin', 'card', 'cvv', 'cvc', 'expiry',
    'security number', 'login', 'log-in', 'sign', 'credential', 'username', 'bank account',
    'social security', 'ssn', 'routing', 'iban', 'kennwort', 'daten', 'tan', 'faktor', 'karte',
    'nummer', 'bankverbindung', 'contrasena', 'clave', 'codigo', 'credencia', 'datos de', 'tarjeta',
    'factor', 'dos pasos', 'senha', 'dados de', 'cartao', 'fator', 'duas etapas', 'identifiant',
    'donnees de connexion', 'cryptogramme', 'authentification', 'facteur', '码', '碼', '口令', '验证',
    '驗證', '认证', '認證', '因素', '登录', '登入', '账号', '帳號', '卡', '网银', '身份证',
)
_URGENCY_STEMS = (
    'urgent', 'immediat', 'right away', 'as soon', 'asap', 'within', 'in the next', 'end of', 'final',
    'last', 'failure to', 'act now', 'time-sensitive', 'time sensitive', 'permanent', 'expire',
    'suspen', 'restrict', 'lock', 'deactivat', 'disabl', 'hold', 'frozen', 'limit', 'terminat', 'close',
    'remov', 'delet', 'block', 'ban', '紧急', '緊急', '立即', '立刻', '马上', '馬上', '尽快', '儘快',
    '火速', '限时', '限時', '小时内', '小時內', '天内', '今天内', '今日内', '当天内', '最后', '最後',
    '逾期', '否则', '否則', '暂停', '暫停', '冻结', '凍結', '封', '关闭', '關閉', '停用', '限制',
    '删除', '刪除', '注销', '下架', '受限', 'dringend', 'sofort', 'umgehend', 'unverzuglich',
    'schnellstmoglich', 'innerhalb', 'letzte', 'gesperrt', 'geschlossen', 'deaktiviert', 'geloscht',
    'eingeschrankt', 'suspendiert', 'blockiert', 'andernfalls', 'sperrung', 'urgente', 'inmediat',
    'cuanto antes', 'lo antes posible', 'dentro de', 'proximas', 'ultimo aviso', 'suspendid',
    'desactivad', 'bloquead', 'cerrad', 'restringid', 'eliminad', 'cancelad', 'de lo contrario',
    'imediatamente', 'o quanto antes', 'o mais rapido', 'suspens', 'desativad', 'encerrad', 'excluid',
    'caso contrario', 'seja', 'sans delai', 'des que possible', 'au plus vite', 'dans les', 'sous ',
    'dernier', 'suspendu', 'desactive', 'bloque', 'ferme', 'restreint', 'supprime', 'resilie',
    'faute de quoi',
)

_MARKS = ".!?\n\u3002\uff01\uff1f\u2022|"
_BOUNDARY = re.compile(f"[{re.escape(_MARKS)}]")


def _sentence(text: str, start: int, end: int) -> tuple[str, int]:
    """The sentence around ``text[start:end]`` and where the match starts inside it."""
    floor = max(0, start - 400)
    left = max(floor, *(text.rfind(mark, floor, start) + 1 for mark in _MARKS))
    right = _BOUNDARY.search(text, end, min(len(text), end + 400))
    stop = right.start() if right else min(len(text), end + 400)
    return text[left:stop], start - left


def _negated(sentence: str, start: int) -> bool:
    """A negation in the same clause, a few words (or CJK characters) before ``start``."""
    before = _CLAUSE.split(sentence[max(0, start - 80):start])[-1]
    words = " ".join(before.split()[-6:])
    negation = _NEGATION.search(words)
    if negation:
        return not _CONDITIONAL.search(words[:negation.start()])
    window = before[-24:]
    negation = _NEGATION_CJK.search(window)
    if negation:
        return not _CONDITIONAL.search(window[max(0, negation.start() - 4):negation.start()])
    return False


_NEGATION_AFTER = re.compile(r"^\W*(?:\w+\W+)?(?:nicht|not)\b")


def _stem_positions(text: str, stems: tuple[str, ...]) -> list[int]:
    found: set[int] = set()
    for stem in stems:
        index = text.find(stem)
        count = 0
        while index >= 0 and count < 50:
            found.add(index)
            count += 1
            index = text.find(stem, index + 1)
    return sorted(found)


def _hits(pattern: re.Pattern[str], stems: tuple[str, ...],
          text: str) -> Iterator[tuple[str, str]]:
    """Matches that are not negated: their sentence and a snippet.

    Only sentences holding one of the rule's ``stems`` are searched with the full pattern.
    """
    seen: set[int] = set()
    for position in _stem_positions(text, stems):
        sentence, offset = _sentence(text, position, position + 1)
        left = position - offset
        if left in seen:
            continue
        seen.add(left)
        for match in pattern.finditer(sentence):
            after = sentence[match.end():match.end() + 30]
            if _negated(sentence, match.start()) or _NEGATION_AFTER.match(after):
                continue
            yield sentence, _snippet(sentence, match.start(), match.end())


def _snippet(sentence: str, start: int, end: int) -> str:
    left = max(0, start - 50)
    right = min(len(sentence), end + 50)
    return (("…" if left else "") + sentence[left:right].strip()
            + ("…" if right < len(sentence) else ""))


def asks_for_reply(normalized: str) -> str | None:
    """The phrase asking the reader to reply, or None."""
    for _sentence_text, snippet in _hits(_REPLY, _REPLY_STEMS, normalized):
        return snippet
    return None


def asks_for_credentials(normalized: str) -> str | None:
    """A sentence asking for a password, code, PIN or card (a credential and a request)."""
    for sentence, snippet in _hits(_CREDENTIALS, _CREDENTIAL_STEMS, normalized):
        for ask in _ASK.finditer(sentence):
            if not _negated(sentence, ask.start()):
                return snippet
    return None


def urgency(normalized: str) -> str | None:
    """The phrase pressing for haste or threatening the account, or None."""
    for _sentence_text, snippet in _hits(_URGENCY, _URGENCY_STEMS, normalized):
        return snippet
    return None
