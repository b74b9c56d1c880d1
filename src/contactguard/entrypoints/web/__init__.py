"""The Seller Center: server-rendered pages (Jinja2 + a little htmx) on the same services."""

from contactguard.entrypoints.web.app import install

__all__ = ["install"]
