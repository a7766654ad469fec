"""Who is calling: the IAM user API Gateway authenticated, and the site it belongs to."""

from __future__ import annotations

from dataclasses import dataclass

from pynamodb.exceptions import DoesNotExist

from functions.core.models import Site, User


class CallerUnknown(Exception):
    """The request carries no IAM user this service knows."""


@dataclass(frozen=True)
class Caller:
    user: User
    site: Site

    @property
    def user_name(self) -> str:
        return self.user.user_name


def user_name_from_arn(user_arn: str | None) -> str | None:
    """``arn:aws:iam::123456789012:user/path/alice`` → ``alice``; None for anything else."""
    if not user_arn or ":user/" not in user_arn:
        return None
    return user_arn.rsplit("/", 1)[-1] or None


def resolve_caller(user_arn: str | None) -> Caller:
    """The caller's records.

    Raises
    ------
    CallerUnknown
        For a request without an IAM user, a user unknown to the service, a disabled
        user, or one whose site is gone.
    """
    name = user_name_from_arn(user_arn)
    if name is None:
        raise CallerUnknown("the request was not signed by a site user's access key")
    try:
        user = User.get(name)
        site = Site.get(user.site_id)
    except DoesNotExist:
        raise CallerUnknown(f"user {name} is not registered with a site") from None
    if not user.enabled:
        raise CallerUnknown(f"user {name} is disabled; ask the site administrator")
    return Caller(user=user, site=site)
