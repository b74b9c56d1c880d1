"""Create the allauth bench database: migrate, then N users with a verified primary email.

    ALLAUTH_BENCH_DIR=/tmp/x bench/.venv-allauth/bin/python bench/allauth/seed.py 20000
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "benchsite.settings")


def main() -> None:
    import django

    django.setup()
    from allauth.account.models import EmailAddress
    from django.contrib.auth import get_user_model
    from django.contrib.auth.hashers import make_password
    from django.core.management import call_command
    from django.db import transaction

    count = int(sys.argv[1]) if len(sys.argv) > 1 else 20000
    call_command("migrate", verbosity=0, interactive=False)
    user_model = get_user_model()
    unusable = make_password(None)  # login by code needs no password
    with transaction.atomic():
        users = user_model.objects.bulk_create(
            [user_model(username=f"b{i}", email=f"b{i}@example.com", password=unusable)
             for i in range(count)], batch_size=2000)
        EmailAddress.objects.bulk_create(
            [EmailAddress(user=u, email=u.email, verified=True, primary=True) for u in users],
            batch_size=2000)
    print(f"seeded {count} users", flush=True)


if __name__ == "__main__":
    main()
