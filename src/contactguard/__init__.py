"""ContactGuard: verify account holders' emergency contacts and keep them safe from phishing."""

__version__ = "0.1.0"
