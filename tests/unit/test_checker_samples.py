"""Realistic phishing (and not) in six languages, each warning sign named, with the platform
configured as a well-known brand. Encodings vary: base64, quoted-printable, GB2312,
ISO-8859-1, HTML-only, RFC 2047 headers, IDN domains."""

from __future__ import annotations

from email.header import Header

from contactguard.services.checker import check_message
from tests.unit.checker_fakes import brand_deps, email


def _check(raw: bytes, locale: str = "en"):
    result = check_message(brand_deps(), raw=raw, locale=locale)
    return result, {r.code.value: r.evidence for r in result.reasons}


def test_the_incidents_phishing_in_english() -> None:
    raw = email(
        sender="Amazon Seller Central <seller-notification@amazon-sellercentral-support.com>",
        reply_to="amazon.seller.verify@gmail.com",
        return_path="<bounce-77@mx1.bulkmail-host.net>",
        subject="Action required: your emergency contact information is missing or invalid",
        text=("Dear Seller,\n\nOur records show that the emergency contact on your account is "
              "missing or invalid. Go to Settings > Account Info > Emergency Contact Information "
              "and update it.\n\nOnce done, reply to this email with your login email, password "
              "and the 2-step verification code so that we can confirm the change.\n\nIf this is "
              "not completed within 48 hours your selling privileges will be suspended.\n\n"
              "Amazon Seller Performance Team"))
    result, signs = _check(raw)
    assert result.verdict == "phishing" and result.matched is None
    assert {"lookalike_domain", "display_name_spoof", "reply_to_mismatch", "return_path_mismatch",
            "asks_for_reply", "asks_for_credentials", "urgency", "not_in_ledger"} <= set(signs)
    assert "amazon-sellercentral-support.com" in signs["lookalike_domain"]
    assert "gmail.com" in signs["reply_to_mismatch"] and "free mailbox" in signs["reply_to_mismatch"]
    messages = {r.code.value: r.message for r in result.reasons}
    assert messages["asks_for_reply"].startswith("It asks you to reply. Amazon never asks")


def test_chinese_html_only_gb2312_with_disguised_shortened_link() -> None:
    html = ("<html><body><p>尊敬的卖家：</p><p>您的紧急联系人信息缺失或无效，请点击 "
            '<a href="http://bit.ly/3xYzQ9">https://sellercentral.amazon.com/verify</a> '
            "登录并在24小时内完成验证，否则您的账户将被冻结。</p>"
            "<p>完成后请回复此邮件，并提供您的登录邮箱、密码和验证码。</p><p>亚马逊卖家平台</p>"
            "</body></html>")
    name = Header("亚马逊卖家平台", "gb2312").encode()
    raw = email(sender=f"{name} <service@amazon.com.cn-verify.top>",
                subject="【紧急】您的紧急联系人信息无效", html=html, charset="gb2312")
    result, signs = _check(raw, locale="zh-Hans")
    assert result.verdict == "phishing"
    assert {"brand_in_subdomain", "display_name_spoof", "link_text_mismatch", "url_shortener",
            "urgency", "asks_for_reply", "asks_for_credentials", "foreign_links"} <= set(signs)
    assert "cn-verify.top" in signs["brand_in_subdomain"]
    assert "亚马逊卖家平台" in signs["display_name_spoof"]
    assert "sellercentral.amazon.com" in signs["link_text_mismatch"]
    messages = {r.code.value: r.message for r in result.reasons}
    assert "回复" in messages["asks_for_reply"] and "Amazon" in messages["asks_for_reply"]


def test_german_quoted_printable_latin1_typosquat() -> None:
    raw = email(sender="Amazon Verkäuferservice <support@amaz0n-seller.de>",
                subject="Ihr Verkäuferkonto wird gesperrt",
                text=("Sehr geehrter Verkäufer,\n\nIhre Notfallkontaktdaten sind ungültig. Bitte "
                      "antworten Sie auf diese E-Mail mit Ihrem Passwort und dem "
                      "Bestätigungscode, den Sie per SMS erhalten. Andernfalls wird Ihr Konto "
                      "innerhalb von 24 Stunden gesperrt.\n\nIhr Amazon Seller Central Team"),
                charset="iso-8859-1", cte="quoted-printable")
    result, signs = _check(raw, locale="de")
    assert result.verdict == "phishing"
    assert {"lookalike_domain", "display_name_spoof", "asks_for_reply", "asks_for_credentials",
            "urgency"} <= set(signs)
    assert "amaz0n-seller.de" in signs["lookalike_domain"]


def test_spanish_idn_homoglyph_sender_and_html_attachment() -> None:
    raw = email(sender="Servicio al vendedor <soporte@xn--mazon-3ve.com>",  # Cyrillic а
                subject="Verificación de cuenta pendiente",
                text=("Estimado vendedor:\n\nDetectamos un problema con su contacto de emergencia. "
                      "Abra el formulario adjunto e introduzca su contraseña y el código de "
                      "verificación para evitar que su cuenta sea suspendida.\n\nEquipo de Amazon"),
                attachments=[("factura_2026.pdf.html", "text/html",
                              b"<form action='https://amazon.com.login-check.es/p'>"
                              b"<input type=password name=p></form>")])
    result, signs = _check(raw, locale="es")
    assert result.verdict == "phishing"
    assert {"lookalike_domain", "asks_for_credentials", "risky_attachment", "urgency",
            "brand_in_subdomain"} <= set(signs)
    assert "login-check.es" in signs["brand_in_subdomain"]  # the attached page's form
    assert "look-alike" in signs["lookalike_domain"]
    assert "disguised as .pdf" in signs["risky_attachment"]


def test_portuguese_spoofed_brand_sender_with_shortener() -> None:
    raw = email(sender="Amazon <no-reply@amazon.com>",
                subject="Atualize seus dados de contato",
                html=("<p>Olá, vendedor.</p><p>Por favor, responda este e-mail com sua senha e o "
                      "código de verificação ou acesse <a href='https://tinyurl.com/amz-br'>"
                      "este link</a> imediatamente.</p>"))
    result, signs = _check(raw, locale="pt")
    assert result.verdict == "phishing"
    assert {"spoofed_from", "asks_for_reply", "asks_for_credentials", "url_shortener",
            "urgency", "not_in_ledger"} <= set(signs)
    assert signs["spoofed_from"] == "no-reply@amazon.com"


def test_french_ip_link_behind_brand_text_and_free_reply_to() -> None:
    raw = email(sender="Service Vendeurs <service.vendeurs@orange.fr>",
                reply_to="sellercentral.fr@gmail.com",
                subject="Votre compte vendeur Amazon sera suspendu",
                html=("<p>Bonjour,</p><p>Veuillez confirmer votre mot de passe sur "
                      "<a href='http://203.0.113.7/fr/login'>https://sellercentral.amazon.fr</a> "
                      "sous 24 heures.</p><p>L'équipe Amazon Seller Central</p>"))
    result, signs = _check(raw, locale="fr")
    assert result.verdict == "phishing"
    assert {"link_text_mismatch", "foreign_links", "asks_for_credentials", "urgency",
            "reply_to_mismatch", "lookalike_domain"} <= set(signs)
    assert "203.0.113.7" in signs["foreign_links"]


def test_forged_dkim_signature_in_our_domain() -> None:
    raw = email(sender="Amazon Seller Central <no-reply@notify.amazon.com>",
                subject="Your verification code",
                text="Your code is 123456. Reference: CG-7KQ4-M9XD",
                headers=[("DKIM-Signature", "v=1; a=rsa-sha256; c=relaxed/relaxed; "
                          "d=notify.amazon.com; s=cg2026; h=from:subject; bh=AAAA; b=BBBB")])
    result, signs = _check(raw)
    assert result.verdict == "phishing"
    assert {"dkim_invalid", "spoofed_from", "not_in_ledger"} <= set(signs)
    assert "CG-7KQ4-M9XD" in signs["not_in_ledger"]


def test_brand_in_a_subdomain_of_a_link_and_encoded_subject() -> None:
    raw = email(sender="Seller Notifications <alerts@seller-news.example.net>",
                subject="=?utf-8?q?Acci=C3=B3n_requerida_=E2=80=93_Amazon?=",
                text=("Your listings were deactivated. Sign in here to restore them: "
                      "https://sellercentral.amazon.com.restore-listings.info/signin\n"))
    result, signs = _check(raw)
    assert result.verdict == "phishing"
    assert "brand_in_subdomain" in signs and "restore-listings.info" in signs["brand_in_subdomain"]


def test_newsletter_and_personal_mail_are_unrelated() -> None:
    newsletter = email(sender="Tea Weekly <news@teaweekly.example>",
                       subject="This week: oolong harvest notes",
                       html=("<h1>Oolong harvest</h1><p>Read the <a href='https://teaweekly.example/"
                             "oolong'>full story</a>. We also compared prices on Amazon and in "
                             "local shops.</p>"))
    result, signs = _check(newsletter)
    assert result.verdict == "unrelated" and signs == {}
    personal = email(sender="Li Wei <li.wei@lotus-tea.example.cn>", subject="周末喝茶？",
                     text="这周末有空吗？我们去西湖边喝龙井吧。")
    assert _check(personal)[0].verdict == "unrelated"


def test_other_brands_credential_phishing_is_unrelated_but_named() -> None:
    raw = email(sender="Microsoft 365 <admin@m365-mailbox-quota.example>",
                subject="Mailbox quota exceeded",
                html=("<p>Your mailbox is full. Please verify your password at "
                      "<a href='https://m365-quota.example/login'>https://outlook.office.com</a>.</p>"))
    result, signs = _check(raw)
    assert result.verdict == "unrelated"
    assert set(signs) == {"asks_for_credentials", "link_text_mismatch"}


def test_genuine_advice_is_not_a_request() -> None:
    raw = email(sender="Bank <notices@bank.example>", subject="Security tips",
                text=("We will never ask you for your password or a verification code. "
                      "You do not need to reply to this email."))
    result, signs = _check(raw)
    assert result.verdict == "unrelated" and signs == {}


def test_phishing_forwarded_inline_by_a_seller_is_judged_by_the_original() -> None:
    forwarded = email(
        sender="Lotus Tea House <owner@lotus-tea.example.cn>", subject="Fwd: 账户验证",
        text=("这封邮件是真的吗？\n\n------------------ 原始邮件 ------------------\n"
              "发件人: \"Amazon Seller Central\" <no-reply@amazon-seller-verify.com>\n"
              "发送时间: 2026年3月2日(星期一) 上午9:00\n收件人: owner@lotus-tea.example.cn\n"
              "主题: 账户验证\n\n您的紧急联系人无效。请回复此邮件并提供您的密码和短信验证码，"
              "否则您的店铺将被冻结。\n"))
    result, signs = _check(forwarded, locale="zh-Hans")
    assert result.verdict == "phishing"
    assert {"lookalike_domain", "display_name_spoof", "asks_for_reply", "asks_for_credentials",
            "urgency"} <= set(signs)
    assert "owner@lotus-tea.example.cn" not in " ".join(signs.values())  # the forwarder is not judged


def test_image_only_brand_logo_with_a_password_form() -> None:
    raw = email(sender="Account Team <team@secure-notice.example>", subject="Important notice",
                html=("<img src='https://cdn.example/logo.png' alt='Amazon'><form action="
                      "'https://secure-notice.example/collect'><input type='password' name='p'>"
                      "</form>"))
    result, signs = _check(raw)
    assert result.verdict == "phishing"
    assert signs["asks_for_credentials"] == "a form asking for a password"
    assert "secure-notice.example" in signs["foreign_links"]


def test_brand_in_a_free_mailbox_address() -> None:
    raw = email(sender="Seller Support <amazon.seller.support@outlook.com>",
                subject="Verify your emergency contact",
                text="Reply to this email with the verification code we sent to your phone.")
    result, signs = _check(raw)
    assert result.verdict == "phishing"
    assert signs["display_name_spoof"] == "amazon.seller.support@outlook.com (a free mailbox)"
    assert {"asks_for_reply", "asks_for_credentials"} <= set(signs)


def test_latin_brand_written_between_chinese_characters() -> None:
    """Chinese puts no spaces around a Latin name ("您的Amazon店铺"): still the brand."""
    lure = ("亲爱的卖家，您的Amazon店铺将在24小时内被暂停。请回复本邮件并提供您的密码和验证码："
            "https://bit.ly/3xYzQ9")
    result = check_message(brand_deps(), text=lure, locale="zh-Hans")
    assert result.verdict == "phishing"
    assert {"asks_for_credentials", "url_shortener"} <= {r.code.value for r in result.reasons}
    # a longer Latin word containing the name is still not the brand
    assert check_message(brand_deps(), text="我们在Amazonas河边喝茶。",
                         locale="zh-Hans").verdict == "unrelated"
