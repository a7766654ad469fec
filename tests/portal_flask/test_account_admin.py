"""A site administrator's accounts page: disable, enable, and who they may act on."""

from __future__ import annotations

from tests.portal_flask.helpers import captured_cookies, client_with, pages_opened, post_form


def test_disabling_an_account_ends_its_sessions_and_enabling_lets_it_sign_in_again(
    portal, make_account, sign_in
):
    admin, user = make_account(), make_account("site_user", "site-a")
    admin_client, user_client = portal.client(), portal.client()
    sign_in(admin_client, admin)
    sign_in(user_client, user)
    captured = captured_cookies(user_client)
    response = post_form(admin_client, f"/accounts/{user.id}/disable", {}, f"/accounts/{user.id}")
    assert response.status_code == 302
    page = admin_client.get(response.headers["Location"]).get_data(as_text=True)
    assert f"Disabled {user.email}" in page and "1 session ended" in page
    assert pages_opened(portal, user_client) == []
    assert pages_opened(portal, client_with(portal, captured)) == []
    assert "disabled" in sign_in(portal.client(), user).get_data(as_text=True)

    post_form(admin_client, f"/accounts/{user.id}/enable", {}, f"/accounts/{user.id}")
    again = portal.client()
    assert sign_in(again, user).status_code == 302
    assert pages_opened(portal, again)
    assert pages_opened(portal, client_with(portal, captured)) == []  # the old cookie stays dead


def test_the_accounts_page_lists_the_sites_own_accounts_only(portal, make_account, sign_in):
    admin = make_account()
    user = make_account("site_user", "site-a")
    other = make_account("site_user", "site-b")
    operator = make_account("operator")
    client = portal.client()
    sign_in(client, admin)
    page = client.get("/accounts/").get_data(as_text=True)
    assert user.email in page and admin.email in page
    assert other.email not in page and operator.email not in page and "site-b" not in page
    operator_client = portal.client()
    sign_in(operator_client, operator)
    everyone = operator_client.get("/accounts/").get_data(as_text=True)
    assert user.email in everyone and other.email in everyone


def test_an_administrator_cannot_disable_themselves_and_a_user_cannot_disable_anyone(
    portal, make_account, sign_in
):
    admin, user = make_account(), make_account("site_user", "site-a")
    admin_client, user_client = portal.client(), portal.client()
    sign_in(admin_client, admin)
    sign_in(user_client, user)
    own = post_form(admin_client, f"/accounts/{admin.id}/disable", {}, "/tasks/")
    assert own.status_code == 404
    refused = post_form(user_client, f"/accounts/{admin.id}/disable", {}, "/tasks/")
    assert refused.status_code == 403
    assert user_client.get("/accounts/").status_code == 403
    assert pages_opened(portal, admin_client)
