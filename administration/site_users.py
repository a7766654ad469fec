"""Site users: the IAM user (in the site users' group), its access keys and its ``User`` record.

IAM keeps each key's secret and never shows it again after creating the key; a
:class:`KeyHook` hears of each key created or deleted, for a deployment that must
keep its own copy (the local cloud's API gateway verifies signatures from one).
"""

from __future__ import annotations

import contextlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from botocore.exceptions import ClientError
from pynamodb.exceptions import PutError

from administration.errors import (
    AdministrationError,
    TooManyKeys,
    UnknownKey,
    UserExists,
)
from administration.sites import get_site
from functions.core.models import User
from functions.core.task_store import condition_failed

_USER_NAME = re.compile(r"^[A-Za-z0-9+=,.@_-]{1,64}$")  # IAM's rule for user names
MAX_KEYS = 2
"""IAM allows a user two access keys."""


@dataclass(frozen=True)
class NewKey:
    """An access key just created; the only moment its secret is known."""

    user_name: str
    access_key_id: str
    secret_access_key: str


@dataclass(frozen=True)
class KeyInfo:
    """An access key as IAM lists it (never with its secret)."""

    access_key_id: str
    active: bool
    created: datetime | None


class KeyHook(Protocol):
    """Hears of every key created or deleted here."""

    def key_created(self, key: NewKey) -> None: ...

    def key_deleted(self, user_name: str, access_key_id: str) -> None: ...


class NoKeyHook:
    """For AWS itself: IAM is the only record of a key."""

    def key_created(self, key: NewKey) -> None:
        return None

    def key_deleted(self, user_name: str, access_key_id: str) -> None:
        return None


def check_user_name(user_name: str) -> None:
    if not _USER_NAME.match(user_name):
        raise AdministrationError(
            f"{user_name!r} cannot be a user name: use up to 64 letters, digits and"
            " + = , . @ _ - (it becomes the user's folder in the buckets)"
        )


@dataclass
class SiteUsers:
    """Creates site users and manages their keys through ``iam``.

    Parameters
    ----------
    iam
        A boto3 IAM client.
    group
        The IAM group every site user belongs to (its policy keeps each user in
        their own prefixes).
    hook
        Told of every key created or deleted.
    path
        The IAM path new users are created under (the description's
        ``site_users.path``): the portal's role may manage users under it only.
    """

    iam: Any
    group: str
    hook: KeyHook = field(default_factory=NoKeyHook)
    path: str = "/"

    def create_user(
        self, user_name: str, site_id: str, *, then: Callable[[NewKey], None] | None = None
    ) -> NewKey:
        """Create the IAM user in the group, its first key, and its ``User`` record.

        ``then`` runs last with the new key (to write an agent's config, say);
        if it or any step fails, every earlier step is undone and the error
        raised, so the name is free again.
        """
        check_user_name(user_name)
        get_site(site_id)
        try:
            existing = User.get(user_name, consistent_read=True)
        except User.DoesNotExist:
            pass
        else:
            raise UserExists(user_name, existing.site_id)
        undo: list[Callable[[], Any]] = []
        try:
            self._iam(self.iam.create_user, UserName=user_name, Path=self.path)
            undo.append(lambda: self.iam.delete_user(UserName=user_name))
            self._iam(self.iam.add_user_to_group, GroupName=self.group, UserName=user_name)
            undo.append(
                lambda: self.iam.remove_user_from_group(GroupName=self.group, UserName=user_name)
            )
            key = self.create_key(user_name)
            undo.append(lambda: self.delete_key(user_name, key.access_key_id))
            try:
                User(user_name, site_id=site_id).save(condition=User.user_name.does_not_exist())
            except PutError as exc:
                if condition_failed(exc):
                    raise UserExists(user_name, site_id) from None
                raise
            undo.append(lambda: User(user_name, site_id=site_id).delete())
            if then is not None:
                then(key)
        except BaseException:
            for step in reversed(undo):
                with contextlib.suppress(Exception):  # the first error is the one to report
                    step()
            raise
        return key

    def users_of(self, site_id: str) -> list[User]:
        """The site's users, by name (one query on the user table's site index)."""
        return list(User.site_index.query(site_id))

    def keys_of(self, user_name: str) -> list[KeyInfo]:
        listed = self._iam(self.iam.list_access_keys, UserName=user_name)
        return [
            KeyInfo(k["AccessKeyId"], k.get("Status") == "Active", k.get("CreateDate"))
            for k in listed["AccessKeyMetadata"]
        ]

    def create_key(self, user_name: str) -> NewKey:
        """A new key for ``user_name`` beside any it has."""
        created = self._iam(self.iam.create_access_key, UserName=user_name)["AccessKey"]
        key = NewKey(user_name, created["AccessKeyId"], created["SecretAccessKey"])
        self.hook.key_created(key)
        return key

    def rotate_key(self, user_name: str) -> tuple[NewKey, list[str]]:
        """A new key for ``user_name``; every older key is deleted (their ids are returned)."""
        old = [k.access_key_id for k in self.keys_of(user_name)]
        if len(old) >= MAX_KEYS:
            raise TooManyKeys(user_name, old)
        key = self.create_key(user_name)
        for access_key_id in old:
            self.delete_key(user_name, access_key_id)
        return key, old

    def delete_key(self, user_name: str, access_key_id: str) -> None:
        self._iam(self.iam.delete_access_key, UserName=user_name, AccessKeyId=access_key_id)
        self.hook.key_deleted(user_name, access_key_id)

    def revoke_key(self, access_key_id: str) -> str:
        """Delete a key, whoever holds it; returns its user's name."""
        owner = self.key_owner(access_key_id)
        if owner is None:
            raise UnknownKey(access_key_id)
        self.delete_key(owner, access_key_id)
        return owner

    def set_key_active(self, access_key_id: str, active: bool) -> str:
        """Accept (``active``) or refuse a key without deleting it; returns its user's name."""
        owner = self.key_owner(access_key_id)
        if owner is None:
            raise UnknownKey(access_key_id)
        self._iam(
            self.iam.update_access_key,
            UserName=owner,
            AccessKeyId=access_key_id,
            Status="Active" if active else "Inactive",
        )
        return owner

    def key_owner(self, access_key_id: str) -> str | None:
        """The user holding ``access_key_id``, or None where IAM knows no such key."""
        try:
            return self.iam.get_access_key_last_used(AccessKeyId=access_key_id)["UserName"]
        except ClientError as exc:
            if _code(exc) in ("NoSuchEntity", "AccessDenied", "InvalidClientTokenId"):
                return None
            raise

    @staticmethod
    def _iam(call: Callable[..., Any], **kwargs: Any) -> Any:
        """An IAM call whose refusals a person can act on become an AdministrationError."""
        try:
            return call(**kwargs)
        except ClientError as exc:
            code, message = _code(exc), exc.response.get("Error", {}).get("Message", "")
            if code == "NoSuchEntity":
                raise AdministrationError(f"IAM has no such entity: {message}") from None
            if code == "EntityAlreadyExists":
                raise AdministrationError(
                    f"IAM already has this: {message}; choose another name"
                ) from None
            if code == "LimitExceeded":
                raise AdministrationError(f"IAM refuses: {message}") from None
            raise


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))
