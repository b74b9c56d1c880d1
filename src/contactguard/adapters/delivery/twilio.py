"""SMS and voice through a Twilio-compatible REST API (Messages and Calls), over httpx.

The base URL is configurable so that tests (and Twilio-compatible gateways) can stand in.
Status callbacks are authenticated with Twilio's ``X-Twilio-Signature`` scheme.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
from collections.abc import Callable, Mapping
from xml.sax.saxutils import escape

import httpx

from contactguard.domain.contacts import Channel
from contactguard.domain.messages import Receipt, RenderedMessage
from contactguard.errors import PermanentDeliveryError, TransientDeliveryError

#: Twilio error codes meaning the destination cannot receive this channel: retrying is useless
#: and the contact is marked undeliverable for it.
RECIPIENT_ERRORS: dict[int, str] = {
    21211: "the number is not a valid phone number",
    21214: "the number cannot be reached by phone",
    21217: "the number is not a valid phone number",
    21407: "this number type is not supported",
    21408: "sending to this region is not enabled",
    21610: "the recipient has opted out of messages (STOP)",
    21612: "the number cannot receive messages from this sender",
    21614: "the number is a landline or otherwise cannot receive SMS",
    30003: "the handset is unreachable",
    30005: "the number is unknown or no longer in service",
    30006: "the number is a landline or the carrier cannot deliver SMS to it",
}

#: How the seller's language is read aloud by ``<Say>``.
VOICE_LANGUAGES = {"en": "en-US", "zh-Hans": "zh-CN"}


class TwilioSender:
    """Sends SMS (Messages API) or places a call reading the script (Calls API, TwiML <Say>)."""

    supports_handover = True

    def __init__(self, channel: Channel, *, account_sid: str, auth_token: str, from_number: str,
                 base_url: str = "https://api.twilio.com", status_callback: str | None = None,
                 name: str = "twilio", client: httpx.Client | None = None,
                 timeout: float = 15.0) -> None:
        self.name = name
        self._channel = channel
        self._sid = account_sid
        self._from = from_number
        self._callback = status_callback
        self._client = client or httpx.Client(timeout=timeout)
        self._auth = httpx.BasicAuth(account_sid, auth_token)
        resource = "Messages" if channel is Channel.SMS else "Calls"
        self._url = f"{base_url.rstrip('/')}/2010-04-01/Accounts/{account_sid}/{resource}.json"

    def close(self) -> None:
        self._client.close()

    def send(self, message: RenderedMessage, *,
             handover: Callable[[], None] | None = None) -> Receipt:
        """Raises TransientDeliveryError (429, 5xx, timeouts) or PermanentDeliveryError."""
        form = {"To": message.to, "From": self._from}
        if self._channel is Channel.SMS:
            form["Body"] = message.body
        else:
            language = VOICE_LANGUAGES.get(message.locale, "en-US")
            form["Twiml"] = (f'<Response><Say language="{language}">{escape(message.body)}</Say>'
                             "</Response>")
        if self._callback:
            form["StatusCallback"] = self._callback
        if handover is not None:
            handover()
        try:
            response = self._client.post(self._url, data=form, auth=self._auth)
        except httpx.TimeoutException as exc:
            raise TransientDeliveryError(f"{self.name}: timed out ({type(exc).__name__})") from exc
        except httpx.TransportError as exc:
            raise TransientDeliveryError(f"{self.name}: {type(exc).__name__}: {exc}") from exc
        return self._receipt(response)

    def _receipt(self, response: httpx.Response) -> Receipt:
        try:
            payload = response.json()
        except ValueError:
            payload = {}
        if not isinstance(payload, dict):
            payload = {}
        if response.status_code < 300 and payload.get("sid"):
            return Receipt(self.name, str(payload["sid"]))
        code = payload.get("code")
        text = str(payload.get("message") or response.reason_phrase)[:300]
        detail = f"{self.name} HTTP {response.status_code}" + (f" error {code}" if code else "")
        if isinstance(code, int) and code in RECIPIENT_ERRORS:
            raise PermanentDeliveryError(f"{detail}: {RECIPIENT_ERRORS[code]} ({text})",
                                         recipient_fault=True)
        if response.status_code in (401, 403, 408, 409, 429) or response.status_code >= 500 \
                or response.status_code < 300:
            # Bad credentials may be fixed (and another provider may take it meanwhile).
            raise TransientDeliveryError(f"{detail}: {text}")
        raise PermanentDeliveryError(f"{detail}: {text}")


def twilio_signature(auth_token: str, url: str, params: Mapping[str, str]) -> str:
    """Twilio's scheme: base64(HMAC-SHA1(token, url + each sorted key + its value))."""
    payload = url + "".join(f"{key}{params[key]}" for key in sorted(params))
    digest = hmac.new(auth_token.encode(), payload.encode(), hashlib.sha1).digest()
    return base64.b64encode(digest).decode()


class TwilioCallbackValidator:
    """Checks ``X-Twilio-Signature`` of status callbacks against the public callback URL."""

    provider = "twilio"

    def __init__(self, auth_tokens: list[str], url: str) -> None:
        self._tokens = [token for token in auth_tokens if token]
        self.url = url

    def valid(self, params: Mapping[str, str], signature: str | None) -> bool:
        if not signature or not self._tokens:
            return False
        # Compared as bytes: compare_digest refuses str with non-ASCII characters (TypeError),
        # and a header may carry any byte (b"\xff\xfe" arrives as "ÿþ").
        given = signature.encode("utf-8", "replace")
        return any(hmac.compare_digest(twilio_signature(token, self.url, params).encode(), given)
                   for token in self._tokens)
