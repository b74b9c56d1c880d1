"""Transports that carry rendered messages: capture (dev), SMTP, SMS and voice providers."""
