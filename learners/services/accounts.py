"""Accounts: a learner's user and profile, and a change of login address."""

from __future__ import annotations

from django.db import transaction

from ..models import (
    Learner,
    User,
)
from ..privacy.selectors import suppressed_emails


def learner_create(
    *,
    email: str,
    first_name: str = "",
    last_name: str = "",
    password: str | None = None,
    **profile,
) -> Learner:
    """A user and their learner profile (password None = unusable, set by password reset)."""
    user = User(
        email=User.objects.normalize_email(email).lower(),
        first_name=first_name,
        last_name=last_name,
    )
    if password:
        user.set_password(password)
    else:
        user.set_unusable_password()
    user.full_clean()
    with transaction.atomic():
        user.save()
        return learner_ensure(user=user, **profile)


def learner_ensure(*, user: User, **fields) -> Learner:
    """The learner profile of ``user``, created if missing (e.g. right after signup)."""
    if suppressed_emails([user.email]):
        # An erased learner's address coming back: nudges off until they opt in again.
        fields = {**fields, "nudges_enabled": False}
    learner, created = Learner.objects.get_or_create(user=user, defaults=fields)
    if created:
        learner.full_clean()
    return learner


@transaction.atomic
def user_change_email(*, user: User, email: str) -> User:
    """Give ``user`` the login address ``email`` (lower-cased) and make allauth's records of
    addresses agree: the old ones are removed (a verified old address would still receive
    password resets and take the account over), the new one is primary and unverified
    until its owner confirms it (allauth asks at the next sign-in). Every place an address
    changes (the admin, an import, the API) goes through here.

    Raises ValidationError when the address is invalid or another account has it, in any
    case."""
    from allauth.account.models import EmailAddress

    email = User.objects.normalize_email(email).strip().lower()
    user.email = email
    user.full_clean(exclude=["password"])
    user.save(update_fields=["email"])
    EmailAddress.objects.filter(user=user).exclude(email__iexact=email).delete()
    address = EmailAddress.objects.filter(user=user, email__iexact=email).first()
    if address is None:
        EmailAddress.objects.create(user=user, email=email, primary=True, verified=False)
    elif not address.primary or address.email != email:
        address.email = email
        address.primary = True
        address.save(update_fields=["email", "primary"])
    return user


def user_set_name(*, user: User, first_name: str, last_name: str) -> User:
    """The learner's own name (the account page): what emails greet them by."""
    user.first_name = " ".join(first_name.split())
    user.last_name = " ".join(last_name.split())
    user.full_clean(exclude=["password"])
    user.save(update_fields=["first_name", "last_name"])
    # Their pages name them: the cached progress page is stale.
    Learner.objects.filter(user=user).touch()
    return user
