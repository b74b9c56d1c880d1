"""What the Seller Center says about errors and conditions, worded from codes in the seller's
language: field errors (by ``FieldError.code`` and its ``params``), the contact-change limit,
and the platform's own conditions for account health assurance (never their internal names).

Strings are marked with ``N_`` for ``make messages`` and translated when a page asks.
"""

from __future__ import annotations

from collections.abc import Mapping

from babel import Locale

from contactguard.domain.compliance import EligibilityReason
from contactguard.domain.contacts import ContactKind
from contactguard.entrypoints.web.i18n import Translator
from contactguard.errors import FieldError, TooManyContactChanges


def N_(message: str) -> str:  # the gettext convention for "translate later"
    return message


#: FieldError.code -> message; ``%(value)s`` and other params come from the error.
FIELD_ERRORS: dict[str, str] = {
    "invalid_phone": N_("“%(value)s” is not a phone number."),
    "premium_rate": N_("Premium-rate numbers cannot be used as an emergency contact."),
    "pager": N_("Pager numbers cannot receive verification codes. Please use another number."),
    "voicemail": N_("Voicemail-only numbers cannot receive verification codes. Please use "
                    "another number."),
    "unknown_line_type": N_("We cannot tell whether this number is a mobile or a landline, so we "
                            "cannot send it a code. Please use another number."),
    "invalid_email": N_("“%(value)s” is not a valid email address. Check it for typos."),
    "control_characters": N_("Line breaks, control characters and invisible formatting "
                             "characters cannot be used (found %(character)s)."),
    "phrase_length": N_("Use %(min)s to %(max)s characters."),
    "phrase_characters": N_("Use letters, digits, spaces and punctuation only (no < or >)."),
    "phrase_link": N_("A phrase may not look like a web address."),
    "phrase_number": N_("A phrase may not contain a long number, so that it is never mistaken "
                        "for a code."),
    "phrase_example": N_("This is the example from this page. Choose a phrase of your own."),
    "phrase_common": N_("This phrase is too common. Choose one that only you would think of."),
}

#: A missing value, per kind of field.
REQUIRED: dict[str, str] = {
    "phone": N_("Enter a phone number, with its area code."),
    "email": N_("Enter an email address, for example name@example.com."),
}

#: invalid_phone with a region: the region's name comes from Babel, in the seller's language.
INVALID_FOR_REGION = N_("“%(value)s” is not a valid phone number in %(region)s.")

#: invalid_email's ``reason`` param -> a precise message.
EMAIL_REASONS: dict[str, str] = {
    "no_at_sign": N_("An email address must have an @-sign."),
    "missing_local_part": N_("There must be something before the @-sign."),
    "missing_domain": N_("There must be something after the @-sign."),
    "local_part_characters": N_("The part before the @-sign has characters an email address "
                                "cannot have."),
    "domain_characters": N_("The part after the @-sign has characters an email address cannot "
                            "have."),
    "domain_without_period": N_("The part after the @-sign is not a domain: it should have a "
                                "period, as in example.com."),
    "reserved_domain": N_("The part after the @-sign is a reserved name that cannot receive "
                          "email."),
    "too_long": N_("This email address is too long."),
}

#: Any other code: still a sentence in the seller's language.
UNKNOWN = N_("This cannot be used. Please check it and try again.")

#: Names of the platform signals sellers may know from the platform itself. A signal not
#: listed here is never named on seller pages; it is "one of the platform's account checks".
SIGNAL_NAMES: dict[str, str] = {
    "account_health_rating": N_("account health rating"),
}
SIGNAL_MISSING = N_("The platform has not reported your %(signal)s to us yet. There is nothing "
                    "you need to do: it usually arrives on its own.")
SIGNAL_TOO_LOW = N_("Your %(signal)s is %(value)s; the program requires at least %(minimum)s. "
                    "It is kept by the platform, not in the Seller Center.")
UNNAMED_SIGNAL_MISSING = N_("The platform has not yet reported one of its own account checks "
                            "for your account. There is nothing you need to do here.")
UNNAMED_SIGNAL_TOO_LOW = N_("One of the platform's own account checks is below what the "
                            "program requires. It is kept by the platform, not in the Seller "
                            "Center.")



def field_error(t: Translator, error: FieldError, kind: ContactKind | None = None) -> str:
    """One field error as a sentence in the seller's language, from its code and params."""
    params: Mapping[str, str] = error.params or {}
    code = error.code
    value, region, reason = params.get("value", ""), params.get("region"), params.get("reason")
    if code == "required":
        field_kind = "phone" if kind is not None and kind.is_phone else "email"
        return t.gettext(REQUIRED[field_kind])
    if code == "invalid_phone" and region:
        return t.gettext(INVALID_FOR_REGION, value=value, region=region_name(t, region))
    if code == "invalid_email" and reason in EMAIL_REASONS:
        precise = EMAIL_REASONS[reason]
        return t.gettext(precise)
    message = FIELD_ERRORS.get(code)
    if message is None:
        return t.gettext(UNKNOWN)
    values = {"value": "", "min": "", "max": "", "character": "", **params}
    return t.gettext(message, **values)


def region_name(t: Translator, code: str) -> str:
    """``CN`` as the seller reads it (``China``, ``中国``)."""
    try:
        return str(Locale.parse(t.babel_locale).territories.get(code.upper(), code))
    except (ValueError, TypeError):
        return code


def change_limit(t: Translator, exc: TooManyContactChanges) -> str:
    """The daily limit on replacing verified contacts, with when it lifts, in the seller's time."""
    return t.ngettext("You can replace a verified contact at most %(n)s time in 24 hours, and "
                      "you have reached that limit. You can change it again after %(time)s.",
                      "You can replace a verified contact at most %(n)s times in 24 hours, and "
                      "you have reached that limit. You can change it again after %(time)s.",
                      exc.limit, time=t.datetime(exc.retry_at))


def platform_condition(t: Translator, reason: EligibilityReason) -> str:
    """A condition on the platform's side, for sellers: no internal signal names."""
    name = SIGNAL_NAMES.get(reason.signal or "")
    if reason.code == "signal_missing":
        return (t.gettext(SIGNAL_MISSING, signal=t.gettext(name)) if name
                else t.gettext(UNNAMED_SIGNAL_MISSING))
    if name:
        return t.gettext(SIGNAL_TOO_LOW, signal=t.gettext(name),
                         value=t.number(reason.value), minimum=t.number(reason.minimum))
    return t.gettext(UNNAMED_SIGNAL_TOO_LOW)


def every_message() -> list[str]:
    """Every text of this module (the catalog test checks each has a translation)."""
    return [*FIELD_ERRORS.values(), *REQUIRED.values(), INVALID_FOR_REGION,
            *EMAIL_REASONS.values(), UNKNOWN, *SIGNAL_NAMES.values(), SIGNAL_MISSING,
            SIGNAL_TOO_LOW, UNNAMED_SIGNAL_MISSING, UNNAMED_SIGNAL_TOO_LOW]
