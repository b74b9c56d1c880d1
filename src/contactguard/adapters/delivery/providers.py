"""Builds the senders the settings describe: SMTP (+DKIM) for email, providers for SMS/voice."""

from __future__ import annotations

from collections.abc import Callable

from contactguard.adapters.delivery.dkim import DkimSigner, load_keys
from contactguard.adapters.delivery.failover import FailoverSender
from contactguard.adapters.delivery.http_gateway import HttpGatewaySender
from contactguard.adapters.delivery.smtp import SmtpSender, parse_mail_from, parse_smtp_url
from contactguard.adapters.delivery.twilio import TwilioCallbackValidator, TwilioSender
from contactguard.config import Settings
from contactguard.domain.contacts import Channel
from contactguard.domain.inbound import verp_address, verp_key
from contactguard.domain.messages import RenderedMessage
from contactguard.errors import ConfigurationError
from contactguard.ports import Clock, Sender

TWILIO_STATUS_PATH = "/v1/providers/twilio/status"


def build_senders(settings: Settings, clock: Clock) -> dict[Channel, Sender]:
    """Raises ConfigurationError for an incomplete or contradictory configuration."""
    senders: dict[Channel, Sender] = {}
    if settings.smtp_url:
        senders[Channel.EMAIL] = smtp_sender(settings, clock)
    for channel, order in ((Channel.SMS, settings.sms_providers),
                           (Channel.VOICE, settings.voice_providers)):
        providers = _providers(settings, channel, order)
        if len(providers) == 1:
            senders[channel] = providers[0]
        elif providers:
            senders[channel] = FailoverSender(providers)
    return senders


def smtp_sender(settings: Settings, clock: Clock) -> SmtpSender:
    mail_from = settings.mail_from or (f"{settings.platform_name} <no-reply@contactguard.localhost>"
                                       if settings.dev else "")
    if not mail_from:
        raise ConfigurationError("CONTACTGUARD_MAIL_FROM is required with CONTACTGUARD_SMTP_URL")
    address = parse_mail_from(mail_from)
    keys = load_keys(settings.dkim_keys)
    signer = DkimSigner(address.domain, keys) if keys else None
    return SmtpSender(parse_smtp_url(settings.smtp_url), address, clock, signer=signer,
                      timeout=settings.smtp_timeout, return_path=verp_return_path(settings))


def verp_return_path(settings: Settings) -> Callable[[RenderedMessage], str | None] | None:
    """The VERP envelope sender of each outbox email (None when ``verp`` is off)."""
    if not settings.verp or not settings.secret_key:
        return None
    key = verp_key(settings.secret_key)
    prefix, domain = settings.verp_prefix, settings.bounce_mail_domain

    def return_path(message: RenderedMessage) -> str | None:
        if message.outbox_id is None:
            return None
        return verp_address(key, message.outbox_id, prefix=prefix, domain=domain)

    return return_path


def _providers(settings: Settings, channel: Channel, order: str) -> list[Sender]:
    available: dict[str, Sender] = {}
    if settings.twilio_account_sid:
        if not settings.twilio_auth_token or not settings.twilio_from_number:
            raise ConfigurationError("Twilio needs CONTACTGUARD_TWILIO_AUTH_TOKEN and "
                                     "CONTACTGUARD_TWILIO_FROM_NUMBER too")
        available["twilio"] = TwilioSender(
            channel, account_sid=settings.twilio_account_sid,
            auth_token=settings.twilio_auth_token, from_number=settings.twilio_from_number,
            base_url=settings.twilio_base_url,
            status_callback=settings.public_url + TWILIO_STATUS_PATH)
    if settings.gateway_url:
        if not settings.gateway_secret:
            raise ConfigurationError("CONTACTGUARD_GATEWAY_URL needs CONTACTGUARD_GATEWAY_SECRET")
        available["gateway"] = HttpGatewaySender(settings.gateway_url, settings.gateway_secret)
    names = [n.strip() for n in order.split(",") if n.strip()] if order else list(available)
    unknown = [n for n in names if n not in available]
    if unknown:
        raise ConfigurationError(f"{channel.value} provider(s) {', '.join(unknown)} are not "
                                 f"configured (configured: {', '.join(available) or 'none'})")
    return [available[n] for n in names]


def callback_validator(settings: Settings) -> TwilioCallbackValidator:
    return TwilioCallbackValidator([settings.twilio_auth_token],
                                   settings.public_url + TWILIO_STATUS_PATH)
