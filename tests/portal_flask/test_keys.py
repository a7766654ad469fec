"""Users and access keys: what IAM, the user table and the API make of the portal's actions."""

from __future__ import annotations

import json
import re
import tomllib

import pytest
from moto.iam.access_control import IAMPolicy, PermissionResult

from functions.core.models import User
from portal_flask.extensions import db
from portal_flask.keys.service import install_key_hook
from portal_flask.models import Account, AuditLog
from scripts.admin import CredentialStoreHook
from scripts.local_cloud.api_client import ApiClient
from tests.portal_flask.helpers import TestAccount, post_form


@pytest.fixture
def admin_client(portal, client, make_account, sign_in):
    install_key_hook(portal.app, CredentialStoreHook(portal.cloud.credentials))
    assert sign_in(client, make_account("site_admin", "site-a")).status_code == 302
    return client


def iam(portal):
    return portal.cloud.clients.session.client("iam")


def keys_in_iam(portal, user_name: str) -> dict[str, str]:
    listed = iam(portal).list_access_keys(UserName=user_name)["AccessKeyMetadata"]
    return {k["AccessKeyId"]: k["Status"] for k in listed}


def shown_key(page: str) -> tuple[str, str]:
    key_id = re.search(r'id="access-key-id">([^<]+)<', page).group(1)
    secret = re.search(r'id="secret">([^<]+)<', page).group(1)
    return key_id, secret


def api_status(portal, key_id: str, secret: str) -> int:
    client = ApiClient(portal.cloud.api.endpoint, key_id, secret, portal.cloud.region)
    return client.post("user_status").status


def create_user(client, user_name: str = "scanner1"):
    return post_form(client, "/keys/users", {"user_name": user_name}, token_from="/keys/")


def test_creating_a_user_shows_its_secret_once_and_the_key_signs_api_calls(portal, admin_client):
    response = create_user(admin_client)
    assert response.status_code == 200
    page = response.get_data(as_text=True)
    key_id, secret = shown_key(page)
    assert "only time the secret is shown" in page
    assert response.headers["Cache-Control"] == "no-store"

    groups = iam(portal).list_groups_for_user(UserName="scanner1")["Groups"]
    assert [g["GroupName"] for g in groups] == [portal.cloud.resources.site_user_group()]
    assert keys_in_iam(portal, "scanner1") == {key_id: "Active"}
    assert User.get("scanner1", consistent_read=True).site_id == "site-a"
    assert api_status(portal, key_id, secret) == 200

    listing = admin_client.get("/keys/").get_data(as_text=True)
    assert key_id in listing and secret not in listing
    with portal.app.app_context():
        entry = db.session.scalar(db.select(AuditLog).filter_by(action="user.create"))
        assert (entry.target, entry.details) == ("scanner1", {"access_key_id": key_id})
        assert secret not in str(entry.details)


def test_the_agent_config_names_the_key_and_the_secret_file_but_holds_no_secret(
    portal, admin_client
):
    page = create_user(admin_client).get_data(as_text=True)
    key_id, secret = shown_key(page)
    response = admin_client.get(f"/keys/users/scanner1/keys/{key_id}/agent.toml")
    assert response.status_code == 200
    assert "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    config = tomllib.loads(text)
    assert config["cloud"]["access_key_id"] == key_id
    assert config["cloud"]["secret_file"] == "agent.secret"
    assert config["cloud"]["region"] == portal.cloud.region
    assert secret not in text


def test_the_agent_config_lists_the_sites_destinations_which_the_agent_takes(portal, admin_client):
    from administration.destinations import put_destination
    from agent.delivery.destination import destination_from_config
    from contracts.destination import Destination as AgentDestination
    from functions.core.destinations import Destination

    put_destination(
        "site-a", Destination("pacs-a", "PACS", ip="10.1.2.3", port=11112, aet="YC", aec="PACSA")
    )
    put_destination("site-a", Destination("share-a", "smb", location="/srv/images"))
    key_id, _ = shown_key(create_user(admin_client).get_data(as_text=True))
    text = admin_client.get(f"/keys/users/scanner1/keys/{key_id}/agent.toml").get_data(as_text=True)

    taken = [destination_from_config(t) for t in tomllib.loads(text)["destination"]]

    assert taken == [
        AgentDestination("pacs-a", "PACS", ip="10.1.2.3", port=11112, aet="YC", aec="PACSA"),
        AgentDestination("share-a", "smb", location="/srv/images"),
    ]


def test_rotating_replaces_the_key_and_the_old_one_is_refused(portal, admin_client):
    old_id, old_secret = shown_key(create_user(admin_client).get_data(as_text=True))
    response = post_form(admin_client, "/keys/users/scanner1/rotate", {}, token_from="/keys/")
    new_id, new_secret = shown_key(response.get_data(as_text=True))
    assert new_id != old_id
    assert keys_in_iam(portal, "scanner1") == {new_id: "Active"}
    assert api_status(portal, new_id, new_secret) == 200
    assert api_status(portal, old_id, old_secret) == 403


def test_a_second_key_then_deactivate_activate_and_revoke(portal, admin_client):
    first_id, _ = shown_key(create_user(admin_client).get_data(as_text=True))
    response = post_form(admin_client, "/keys/users/scanner1/keys", {}, token_from="/keys/")
    second_id, second_secret = shown_key(response.get_data(as_text=True))
    assert set(keys_in_iam(portal, "scanner1")) == {first_id, second_id}
    page = admin_client.get("/keys/").get_data(as_text=True)
    assert "New key" not in page.split('id="user-scanner1"')[1].split("</tr>")[0]

    base = f"/keys/users/scanner1/keys/{second_id}"
    post_form(admin_client, f"{base}/active", {"active": "0"}, token_from="/keys/")
    assert keys_in_iam(portal, "scanner1")[second_id] == "Inactive"
    post_form(admin_client, f"{base}/active", {"active": "1"}, token_from="/keys/")
    assert keys_in_iam(portal, "scanner1")[second_id] == "Active"

    response = post_form(admin_client, f"{base}/revoke", {}, token_from="/keys/")
    assert response.status_code == 302
    assert set(keys_in_iam(portal, "scanner1")) == {first_id}
    assert api_status(portal, second_id, second_secret) == 403
    assert post_form(admin_client, f"{base}/revoke", {}, token_from="/keys/").status_code == 404
    with portal.app.app_context():
        actions = db.session.scalars(db.select(AuditLog.action).order_by(AuditLog.id)).all()
    assert actions == ["user.create", "key.create", "key.deactivate", "key.activate", "key.revoke"]


def test_the_portals_role_manages_site_users_under_their_path_and_no_other_user(
    portal, admin_client
):
    """The portal's IAM policy (resources.json), evaluated by moto's IAM policy evaluator
    against the ARNs of real users in the emulator.

    The emulator's own enforcement cannot show this: for IAM's user actions it
    checks every policy against the resource ``*``, never the user's ARN.
    """
    resources = portal.cloud.resources
    create_user(admin_client, "scanner1")
    site_user = iam(portal).get_user(UserName="scanner1")["User"]
    assert (
        site_user["Path"]
        == resources.site_user_path()
        == "/" + portal.cloud.prefix + "/site-users/"
    )
    administrator = iam(portal).create_user(UserName="administrator")["User"]
    elsewhere = iam(portal).create_user(UserName="ci", Path="/automation/")["User"]
    group = iam(portal).get_group(GroupName=resources.site_user_group())["Group"]["Arn"]
    admins = iam(portal).create_group(GroupName="admins")["Group"]["Arn"]

    policy = resources.site_user_administration_policy()
    evaluator = IAMPolicy(json.dumps(policy))
    (statement,) = policy["Statement"]
    for action in statement["Action"]:
        assert evaluator.is_action_permitted(action, site_user["Arn"]) == PermissionResult.PERMITTED
        for outsider in (administrator["Arn"], elsewhere["Arn"]):
            refused = evaluator.is_action_permitted(action, outsider)
            assert refused != PermissionResult.PERMITTED, (action, outsider)
    assert evaluator.is_action_permitted("iam:AddUserToGroup", group) == PermissionResult.PERMITTED
    assert evaluator.is_action_permitted("iam:AddUserToGroup", admins) != PermissionResult.PERMITTED
    assert evaluator.is_action_permitted("iam:CreatePolicy", "*") != PermissionResult.PERMITTED


def test_a_taken_or_bad_user_name_is_refused_with_the_reason(portal, admin_client):
    response = create_user(admin_client, "alice")
    assert response.status_code == 302
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "alice is taken; choose another, or give the existing one a new key" in page
    response = create_user(admin_client, "has space")
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "no spaces" in page
    assert iam(portal).list_users()["Users"] == []


def test_no_message_names_another_site_or_its_users(portal, admin_client, make_account):
    """Each form that checks uniqueness, given a name taken at site-b."""
    response = create_user(admin_client, "carol")
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "No user created: the user name carol is taken; choose another." in page
    assert "site-b" not in page and "existing one" not in page
    taken = make_account("site_user", "site-b")
    response = post_form(
        admin_client, "/keys/users/alice/sign-in", {"email": taken.email}, token_from="/keys/"
    )
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert "No sign-in created: that email address has a sign-in already; give another." in page
    assert "site-b" not in page and taken.email not in page


def test_another_sites_user_answers_404(portal, admin_client):
    assert post_form(admin_client, "/keys/users/carol/rotate", {}, "/keys/").status_code == 404
    assert post_form(admin_client, "/keys/users/nobody/keys", {}, "/keys/").status_code == 404


def test_a_portal_sign_in_for_a_site_user_sees_that_users_tasks(portal, admin_client, sign_in):
    response = post_form(
        admin_client,
        "/keys/users/alice/sign-in",
        {"email": "alice@site-a.example.org"},
        token_from="/keys/",
    )
    assert response.status_code == 200
    password = re.search(r'id="password">([^<]+)<', response.get_data(as_text=True)).group(1)
    with portal.app.app_context():
        account = db.session.scalar(db.select(Account).filter_by(email="alice@site-a.example.org"))
        made = (account.role, account.site_id, account.user_name)
        assert made == ("site_user", "site-a", "alice")
        assert password not in account.password_hash
    client = portal.client()
    alice = TestAccount(account.id, account.email, password, "site_user", "site-a", "alice")
    assert sign_in(client, alice).status_code == 302
    assert client.get("/keys/").status_code == 403


def test_site_users_and_operators_cannot_manage_keys(portal, make_account, sign_in):
    for role in ("site_user", "operator"):
        client = portal.client()
        sign_in(client, make_account(role, "site-a"))
        assert client.get("/keys/").status_code == 403
