"""What an HTML body shows and where its links go (selectolax/lexbor: fast, browser-grade).

Hidden text (``display:none``, zero font size, ``hidden``), scripts and styles are dropped:
phishing kits hide junk words there to break keyword filters. Block elements become line
breaks so quoted headers of a forwarded message stay one per line.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from selectolax.lexbor import LexborHTMLParser

_MARK = "\ue000"
_BLOCK = re.compile(r"(?i)<(?:br|p|div|tr|li|h[1-6]|table|blockquote|hr|section|article|dd|dt|ul"
                    r"|ol|pre|center|address|header|footer|form)\b")
_HIDDEN_STYLE = re.compile(r"(?i)display\s*:\s*none|visibility\s*:\s*hidden|font-size\s*:\s*0"
                           r"(?:px|pt|em|rem|%)?\s*(?:;|$|!)|max-height\s*:\s*0|opacity\s*:\s*0(?:\.0*)?\s*(?:;|$)")
_SPACES = re.compile(r"[ \t\r\n\f\v\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
_MAX_HTML = 2_000_000
_MAX_LINKS = 500
_ANCHOR = "\ue001"
_ANCHOR_RE = re.compile(r"\ue001(\d+)\ue001")


@dataclass(slots=True)
class HtmlFacts:
    text: str = ""
    anchors: list[tuple[str, str, int]] = field(default_factory=list)  # href, text, offset
    forms: list[str] = field(default_factory=list)  # form actions
    password_field: bool = False
    alt_text: str = ""  # images' alt and title texts (a logo saying the brand's name)


def read_html(markup: str) -> HtmlFacts:
    """Visible text, links with their text, form actions. Never raises on bad markup."""
    facts = HtmlFacts()
    try:
        tree = LexborHTMLParser(_BLOCK.sub(lambda m: _MARK + m.group(0), markup[:_MAX_HTML]))
        for node in tree.css("script, style, head, title, noscript, template, [hidden]"):
            node.decompose()
        for node in tree.css("[style]"):
            if _HIDDEN_STYLE.search(node.attributes.get("style") or ""):
                node.decompose()
        found: list[tuple[str, str]] = []
        for node in tree.css("a[href], area[href]"):
            href = (node.attributes.get("href") or "").strip()
            if href and not href.startswith("#") and len(found) < _MAX_LINKS:
                node.insert_before(f"{_ANCHOR}{len(found)}{_ANCHOR}")
                found.append((href, _SPACES.sub(" ", node.text() or "").strip()))
        for node in tree.css("form"):
            facts.forms.append((node.attributes.get("action") or "").strip())
        facts.password_field = bool(tree.css('input[type="password" i]'))
        facts.alt_text = " ".join(
            (node.attributes.get("alt") or node.attributes.get("title") or "").strip()
            for node in tree.css("img[alt], img[title]")[:50])
        root = tree.body or tree.root
        raw = root.text() if root is not None else ""
    except Exception:  # a parser failure must not fail the check
        return HtmlFacts(text=_SPACES.sub(" ", re.sub(r"<[^>]*>", " ", markup[:_MAX_HTML])))
    lines = (_SPACES.sub(" ", line).strip() for line in raw.split(_MARK))
    text = "\n".join(line for line in lines if line)
    # Where each link sits in the text (to tell a forwarder's note from the forwarded part).
    parts: list[str] = []
    position = 0
    last = 0
    for match in _ANCHOR_RE.finditer(text):
        parts.append(text[last:match.start()])
        position += match.start() - last
        last = match.end()
        href, label = found[int(match.group(1))]
        facts.anchors.append((href, label, position))
    parts.append(text[last:])
    facts.text = "".join(parts)
    return facts
