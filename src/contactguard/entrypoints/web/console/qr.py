"""QR codes for TOTP enrolment: SVG drawn by ``segno`` (pure Python), inlined as a data URI so
the strict CSP (``img-src 'self' data:``) needs no exception and nothing is written to disk."""

from __future__ import annotations

import segno


def qr_data_uri(text: str) -> str:
    """An ``<img src>`` value showing ``text`` as a QR code (error correction M, quiet zone 4)."""
    code = segno.make(text, error="m", micro=False)
    uri: str = code.svg_data_uri(scale=5, border=4, dark="#111", light="#fff",
                                 omitsize=True)
    return uri
