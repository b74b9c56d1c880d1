import os

from allauth.account.adapter import DefaultAccountAdapter
from django.contrib.auth import get_user_model

from benchsite.mail import capture

# Must match CODE in bench/verification_flow.py / bench/compare_flows.py.
FIXED_CODE = "246810"
#: The fixed-code variant (no mailbox); the mailbox variants read real random codes from the
#: capture socket instead (ALLAUTH_BENCH_CAPTURE set, ALLAUTH_BENCH_FIXED_CODE unset).
USE_FIXED_CODE = os.environ.get("ALLAUTH_BENCH_FIXED_CODE", "1") == "1"

#: The bench's phone numbers: user bN has +447911 (100000 + N), a UK mobile, the same number
#: ContactGuard's account bN has as its emergency phone.
PHONE_PREFIX = "+447911"
PHONE_BASE = 100000


def phone_of(index: int) -> str:
    return f"{PHONE_PREFIX}{PHONE_BASE + index}"


class FixedCodeAdapter(DefaultAccountAdapter):
    """allauth's adapter with a known login code (fixed variant), and phone numbers for the
    phone login-by-code flow (stored nowhere extra: derived from the username, so a phone
    lookup is one indexed query, as with a phone column)."""

    def generate_login_code(self) -> str:
        return FIXED_CODE if USE_FIXED_CODE else super().generate_login_code()

    def generate_phone_verification_code(self, *, user, phone) -> str:
        return FIXED_CODE if USE_FIXED_CODE else super().generate_phone_verification_code(
            user=user, phone=phone)

    # --- phone support (allauth >= 65.? "phone" login method) -----------------------------
    def send_verification_code_sms(self, user, phone, code, **kwargs) -> None:
        # An SMS gateway would get this text; the bench client reads it from the capture.
        capture(phone, f"Your sign-in code is {code}".encode())

    def set_phone(self, user, phone, verified) -> None:
        pass

    def get_phone(self, user):
        name = user.username
        if name.startswith("b") and name[1:].isdigit():
            return phone_of(int(name[1:])), True
        return None

    def set_phone_verified(self, user, phone) -> None:
        pass

    def get_user_by_phone(self, phone):
        if not phone.startswith(PHONE_PREFIX) or not phone[len(PHONE_PREFIX):].isdigit():
            return None
        index = int(phone[len(PHONE_PREFIX):]) - PHONE_BASE
        return get_user_model().objects.filter(username=f"b{index}").first()
