"""Facts about a suspicious message: MIME and HTML parsing, domains, our own DKIM keys."""
