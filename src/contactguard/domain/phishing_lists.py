"""Fixed lists the checker consults: link shorteners, free mailboxes, risky attachments."""

from __future__ import annotations

from contactguard.domain.phishing import Attachment


def _words(text: str) -> list[str]:
    return text.split()


#: Registered domains of public link shorteners (the destination is hidden until clicked).
SHORTENERS = frozenset(_words("""
bit.ly bitly.com bit.do tinyurl.com t.co goo.gl g.co ow.ly is.gd v.gd buff.ly rebrand.ly rb.gy
cutt.ly t.ly tiny.cc tiny.one shorturl.at shorturl.com s.id u.nu x.co lnkd.in db.tt qr.ae
adf.ly bl.ink short.io short.gy soo.gd clck.ru tr.im po.st mcaf.ee su.pr trib.al ift.tt dlvr.it
fb.me wp.me youtu.be amzn.to amzn.eu a.co t.cn dwz.cn url.cn suo.im sina.lt 6du.in mrw.so u.to
0rz.tw reurl.cc ppt.cc lihi.cc lihi1.cc pse.is linktr.ee lnk.to urlz.fr bitly.ws tinyurl.ph
2.gp rebrandly.com shrtco.de kutt.it t2m.io 1url.com short.link shorte.st ouo.io bc.vc cli.re
chilp.it hyperurl.co
"""))

#: Free mailbox providers: a "support team" replying from one of these is not the platform.
FREE_MAILBOXES = frozenset(_words("""
gmail.com googlemail.com outlook.com hotmail.com hotmail.co.uk hotmail.fr hotmail.de hotmail.es
hotmail.it live.com live.cn msn.com yahoo.com yahoo.co.uk yahoo.fr yahoo.de yahoo.es
yahoo.com.br yahoo.co.jp ymail.com rocketmail.com aol.com icloud.com me.com mac.com mail.com
email.com gmx.com gmx.de gmx.net gmx.at web.de t-online.de freenet.de protonmail.com proton.me
pm.me tutanota.com tuta.io zoho.com zohomail.com yandex.com yandex.ru ya.ru mail.ru inbox.ru
list.ru bk.ru qq.com foxmail.com 163.com 126.com yeah.net 139.com 189.cn sina.com sina.cn
sohu.com aliyun.com tom.com 21cn.com naver.com daum.net hanmail.net orange.fr wanadoo.fr
laposte.net free.fr sfr.fr libero.it virgilio.it uol.com.br bol.com.br terra.com.br ig.com.br
hotmail.com.br outlook.com.br outlook.es outlook.fr outlook.de mailinator.com guerrillamail.com
temp-mail.org 10minutemail.com
"""))

#: Attachments that run code, render a web page (fake sign-in forms) or hide other files.
RISKY_EXTENSIONS = frozenset(_words("""
html htm shtml xhtml mht mhtml svg xht hta js jse vbs vbe wsf wsh ps1 psm1 bat cmd com exe scr
pif msi msp dll cpl jar apk app dmg pkg iso img vhd vhdx lnk url reg chm inf scf one xll xlam
docm dotm xlsm xltm pptm potm ppam sldm zip rar 7z gz tgz bz2 xz cab ace arj lzh tar uue z
"""))

#: Content types that are risky whatever their name says.
RISKY_TYPES = frozenset({
    "text/html", "application/xhtml+xml", "image/svg+xml", "application/javascript",
    "text/javascript", "application/x-msdownload", "application/x-msdos-program",
    "application/hta", "application/x-ms-shortcut", "application/java-archive",
    "application/vnd.android.package-archive", "application/x-iso9660-image",
    "application/zip", "application/x-zip-compressed", "application/x-rar-compressed",
    "application/vnd.rar", "application/x-7z-compressed",
})

_DECOY = frozenset({"pdf", "doc", "docx", "xls", "xlsx", "jpg", "jpeg", "png", "txt", "rtf"})


def risky_attachment(attachment: Attachment) -> str | None:
    """Why an attachment is risky (evidence), or None."""
    name = attachment.filename.strip().lower().rstrip(". ")
    parts = name.rsplit(".", 2)
    extension = parts[-1] if len(parts) > 1 else ""
    if extension in RISKY_EXTENSIONS:
        if len(parts) == 3 and parts[1] in _DECOY:
            return f"{attachment.filename} (a .{extension} file disguised as .{parts[1]})"
        return attachment.filename
    if attachment.content_type in RISKY_TYPES:
        return f"{attachment.filename or 'unnamed'} ({attachment.content_type})"
    return None
