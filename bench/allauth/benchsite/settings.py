"""Minimal Django project: django-allauth's headless "login by code" (email) flow on SQLite.

Used only by bench/compare_flows.py. The database lives in $ALLAUTH_BENCH_DIR (a temporary
directory made by the bench). Everything else is a plain production-like configuration:
DEBUG off, standard middleware, database sessions, allauth's rate limiting on (per-IP limits
raised, since every bench client comes from 127.0.0.1).
"""

import os
from pathlib import Path

from django.db.backends.signals import connection_created

BENCH_DIR = Path(os.environ.get("ALLAUTH_BENCH_DIR", "/tmp/allauth-bench"))

SECRET_KEY = "bench-only-not-secret"
DEBUG = False
ALLOWED_HOSTS = ["127.0.0.1", "localhost"]
ROOT_URLCONF = "benchsite.urls"
WSGI_APPLICATION = "benchsite.wsgi.application"
USE_TZ = True

INSTALLED_APPS = [
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "allauth",
    "allauth.account",
    "allauth.headless",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "allauth.account.middleware.AccountMiddleware",
]

TEMPLATES = [{
    "BACKEND": "django.template.backends.django.DjangoTemplates",
    "APP_DIRS": True,
    "OPTIONS": {"context_processors": ["django.template.context_processors.request"]},
}]

DATABASES = {
    "default": {
        "ENGINE": "django.db.backends.sqlite3",
        "NAME": BENCH_DIR / "allauth.sqlite3",
        # Persistent connection per worker (Django's default of 0 would reconnect per request).
        "CONN_MAX_AGE": None,
        "OPTIONS": {"timeout": 20},
    }
}


def _sqlite_pragmas(sender, connection, **kwargs):
    # WAL + synchronous=NORMAL, the same durability trade-off ContactGuard makes on SQLite.
    if connection.vendor == "sqlite":
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA journal_mode=WAL")
            cursor.execute("PRAGMA synchronous=NORMAL")


connection_created.connect(_sqlite_pragmas)

# Sessions in the database (Django's default): the app client's X-Session-Token is the
# session key, so the pending login-by-code state lives in django_session.
SESSION_ENGINE = "django.contrib.sessions.backends.db"

# Rate limiting uses the cache; locmem is correct with one worker and close enough with two
# (each worker counts on its own).
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}

AUTHENTICATION_BACKENDS = ["allauth.account.auth_backends.AuthenticationBackend"]

# Mail is rendered and serialised (as it would be for SMTP), then dropped (fixed-code variant)
# or handed to the bench client's capture socket (mailbox variants; see mail.py).
EMAIL_BACKEND = "benchsite.mail.DiscardingBackend"
DEFAULT_FROM_EMAIL = "noreply@example.com"

# --- django-allauth -------------------------------------------------------------------
ACCOUNT_ADAPTER = "benchsite.adapter.FixedCodeAdapter"
# Email and phone (allauth 65's phone login by code: the adapter maps numbers to users).
ACCOUNT_LOGIN_METHODS = {"email", "phone"}
ACCOUNT_SIGNUP_FIELDS = ["email*", "phone", "username*", "password1*", "password2*"]
ACCOUNT_EMAIL_VERIFICATION = "optional"
ACCOUNT_LOGIN_BY_CODE_ENABLED = True
# Six digits, like ContactGuard's codes (allauth's default is 8 letters and digits, dashed).
ACCOUNT_LOGIN_BY_CODE_FORMAT = {"numeric": True, "length": 6, "dashed": False}
ACCOUNT_PHONE_VERIFICATION_CODE_FORMAT = {"numeric": True, "length": 6, "dashed": False}
# The per-IP limits would stop a benchmark whose clients all share 127.0.0.1 after 20
# requests a minute; the per-email ("key") limits stay as shipped.
ACCOUNT_RATE_LIMITS = {
    "request_login_code": "1000000/m/ip,3/m/key",
    "login": "1000000/m/ip",
    "login_failed": "1000000/m/ip,5/300s/key",
}
HEADLESS_CLIENTS = ("app",)
HEADLESS_ONLY = True
HEADLESS_FRONTEND_URLS = {
    "account_signup": "http://127.0.0.1/signup",
    "account_confirm_email": "http://127.0.0.1/verify-email/{key}",
    "account_reset_password": "http://127.0.0.1/password/reset",
    "account_reset_password_from_key": "http://127.0.0.1/password/reset/key/{key}",
}

LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "handlers": {"console": {"class": "logging.StreamHandler"}},
    "root": {"handlers": ["console"], "level": "WARNING"},
    # allauth answers the code request with 401 (flow pending) by design; Django would log a
    # warning line per request, which ContactGuard does not pay for either.
    "loggers": {"django.request": {"level": "ERROR"}},
}
