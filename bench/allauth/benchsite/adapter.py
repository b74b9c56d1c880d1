from allauth.account.adapter import DefaultAccountAdapter

# Must match CODE in bench/verification_flow.py / bench/compare_flows.py.
FIXED_CODE = "246810"


class FixedCodeAdapter(DefaultAccountAdapter):
    """allauth's adapter with a known login code, so the bench client needs no mailbox."""

    def generate_login_code(self) -> str:
        return FIXED_CODE
