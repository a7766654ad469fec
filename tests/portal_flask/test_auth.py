"""Signing in and out, accounts, and the pages a signed-out visitor meets."""

from __future__ import annotations

from tests.portal_flask.helpers import csrf_token


def test_sign_in_lands_on_the_task_monitor_and_sign_out_ends_the_session(
    portal, client, make_account, sign_in
):
    admin = make_account("site_admin", "site-a")
    response = sign_in(client, admin)
    assert response.status_code == 302
    assert response.headers["Location"] == "/tasks/"
    page = client.get("/tasks/").get_data(as_text=True)
    assert admin.email in page
    token = csrf_token(client, "/tasks/")
    signed_out = client.post("/auth/sign-out", data={"csrf_token": token})
    assert signed_out.status_code == 302
    assert client.get("/tasks/").status_code == 302


def test_a_wrong_password_is_refused_with_the_same_words_as_an_unknown_email(
    portal, client, make_account, sign_in
):
    admin = make_account()
    wrong = sign_in(client, admin, password="not the password at all").get_data(as_text=True)
    assert "do not match an account" in wrong
    unknown = client.post(
        "/auth/sign-in",
        data={
            "csrf_token": csrf_token(client),
            "email": "nobody@example.org",
            "password": "whatever it is",
        },
    ).get_data(as_text=True)
    assert "do not match an account" in unknown
    assert client.get("/tasks/").status_code == 302


def test_signed_out_visitors_are_sent_to_sign_in_with_the_page_they_wanted(portal, client):
    response = client.get("/tasks/?status=FAILED")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/auth/sign-in?next=")
