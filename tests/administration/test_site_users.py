"""Site users and their keys: what IAM, the user table and the key hook hold afterwards."""

from __future__ import annotations

import pytest

from administration import sites
from administration.errors import (
    AdministrationError,
    TooManyKeys,
    UnknownKey,
    UnknownSite,
    UserExists,
)
from functions.core.models import User


def iam_keys(users, user_name: str) -> dict[str, bool]:
    return {k.access_key_id: k.active for k in users.keys_of(user_name)}


def test_a_user_is_created_in_the_group_with_a_key_the_hook_records(cloud, users, hook):
    sites.create_site("site-a", "Klinik A")
    key = users.create_user("alice", "site-a")
    groups = users.iam.list_groups_for_user(UserName="alice")["Groups"]
    assert [g["GroupName"] for g in groups] == [users.group]
    assert iam_keys(users, "alice") == {key.access_key_id: True}
    assert hook.secrets == {key.access_key_id: key.secret_access_key}
    assert User.get("alice", consistent_read=True).site_id == "site-a"
    assert [u.user_name for u in users.users_of("site-a")] == ["alice"]

    with pytest.raises(UserExists) as raised:
        users.create_user("alice", "site-a")
    assert raised.value.site_id == "site-a"
    with pytest.raises(UnknownSite):
        users.create_user("bob", "site-z")
    with pytest.raises(AdministrationError, match="cannot be a user name"):
        users.create_user("bob/x", "site-a")


def test_a_failing_last_step_undoes_the_user_entirely(cloud, users, hook):
    sites.create_site("site-a", "Klinik A")

    def refuse(key):
        raise AdministrationError("cannot write the config")

    with pytest.raises(AdministrationError, match="cannot write the config"):
        users.create_user("alice", "site-a", then=refuse)
    assert users.iam.list_users()["Users"] == []
    assert hook.secrets == {}
    with pytest.raises(User.DoesNotExist):
        User.get("alice", consistent_read=True)
    users.create_user("alice", "site-a")


def test_keys_rotate_deactivate_and_revoke(cloud, users, hook):
    sites.create_site("site-a", "Klinik A")
    first = users.create_user("alice", "site-a")
    second, deleted = users.rotate_key("alice")
    assert deleted == [first.access_key_id]
    assert iam_keys(users, "alice") == {second.access_key_id: True}
    assert set(hook.secrets) == {second.access_key_id}

    extra = users.create_key("alice")
    with pytest.raises(TooManyKeys):
        users.rotate_key("alice")
    assert users.key_owner(extra.access_key_id) == "alice"
    assert users.set_key_active(extra.access_key_id, False) == "alice"
    assert iam_keys(users, "alice") == {second.access_key_id: True, extra.access_key_id: False}
    assert users.revoke_key(extra.access_key_id) == "alice"
    assert iam_keys(users, "alice") == {second.access_key_id: True}
    assert set(hook.secrets) == {second.access_key_id}
    with pytest.raises(UnknownKey):
        users.revoke_key(extra.access_key_id)
    assert users.key_owner("AKIANOSUCHKEY0000000") is None
