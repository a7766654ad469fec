"""Security properties of the whole portal, over every route it registers.

Routes are discovered from ``app.url_map``, so pages added later are covered
without touching these tests: each route with arguments needs a line in
``cross_site.py`` saying how to name another site's object.
"""

from __future__ import annotations

import re

from werkzeug.routing import Rule

from portal_flask import create_app
from portal_flask.extensions import db
from portal_flask.models import Account
from portal_flask.passwords import verify_password
from tests.portal_flask.cross_site import CSRF_EXEMPT, NOT_SITE_OBJECTS, OTHER_SITE
from tests.portal_flask.helpers import COOKIES, csrf_token, sign_in

CHANGING = ("POST", "PUT", "PATCH", "DELETE")


def rules(app, *, with_arguments: bool) -> list[Rule]:
    return sorted(
        (rule for rule in app.url_map.iter_rules() if bool(rule.arguments) == with_arguments),
        key=lambda rule: rule.rule,
    )


def _exempt(app, endpoint: str) -> bool:
    from portal_flask.extensions import csrf

    view = app.view_functions[endpoint]
    name = f"{view.__module__}.{view.__name__}"
    blueprint = endpoint.rpartition(".")[0]
    return name in csrf._exempt_views or blueprint in csrf._exempt_blueprints


def _placeholder_url(app, rule: Rule) -> str:
    with app.test_request_context():
        from flask import url_for

        values = {}
        for name in rule.arguments:
            converter = rule._converters[name]
            values[name] = 1 if "Integer" in type(converter).__name__ else "x"
        return url_for(rule.endpoint, **values)


def test_every_changing_route_refuses_a_request_without_a_csrf_token(
    portal, client, make_account, sign_in
):
    sign_in(client, make_account("operator"))
    checked = []
    for rule in rules(portal.app, with_arguments=False) + rules(portal.app, with_arguments=True):
        methods = [m for m in CHANGING if m in rule.methods]
        if not methods:
            continue
        if _exempt(portal.app, rule.endpoint):
            assert rule.endpoint in CSRF_EXEMPT, f"{rule.endpoint} is CSRF-exempt without a reason"
            continue
        url = _placeholder_url(portal.app, rule)
        for method in methods:
            response = client.open(url, method=method, data={"anything": "1"})
            assert response.status_code == 400, f"{method} {url}: {response.status_code}"
            assert "did not come from this portal" in response.get_data(as_text=True)
            checked.append(rule.endpoint)
    assert "auth.sign_in" in checked
    assert "auth.sign_out" in checked


def test_sign_in_without_a_token_is_refused_too(portal, client, make_account):
    admin = make_account()
    response = client.post("/auth/sign-in", data={"email": admin.email, "password": admin.password})
    assert response.status_code == 400
    assert client.get("/tasks/").status_code == 302


def test_another_sites_objects_answer_404_on_every_route_with_an_id(portal, make_account, sign_in):
    routes = [
        r for r in rules(portal.app, with_arguments=True) if r.endpoint not in NOT_SITE_OBJECTS
    ]
    missing = sorted({r.endpoint for r in routes} - set(OTHER_SITE))
    assert not missing, f"add these routes to tests/portal_flask/cross_site.py: {missing}"
    owner = portal.client()
    sign_in(owner, make_account("site_admin", "site-b"))
    outsiders = {}
    for role in ("site_admin", "site_user"):
        outsiders[role] = portal.client()
        sign_in(outsiders[role], make_account(role, "site-a"))
    for rule in routes:
        with portal.app.test_request_context():
            from flask import url_for

            url = url_for(rule.endpoint, **OTHER_SITE[rule.endpoint](portal))
        if "GET" in rule.methods:
            assert owner.get(url).status_code != 404, f"{url}: the site-b object does not exist"
        for role, client in outsiders.items():
            for method in [m for m in ("GET", *CHANGING) if m in rule.methods]:
                data = {}
                if method != "GET":
                    data["csrf_token"] = csrf_token(client, "/tasks/")
                response = client.open(url, method=method, data=data)
                assert response.status_code in (403, 404), (
                    f"{role} of site-a: {method} {url} answered {response.status_code}"
                )
                if response.status_code == 403:
                    # Refused by role before any lookup: the same for every id.
                    assert "may not open this page" in response.get_data(as_text=True)


def test_session_and_remember_cookies_are_secure_httponly_samesite_lax(
    portal, client, make_account
):
    admin = make_account()
    response = sign_in(client, admin, remember=True)
    assert response.status_code == 302
    cookies = {header.split("=", 1)[0]: header for header in response.headers.getlist("Set-Cookie")}
    assert set(COOKIES) <= set(cookies)
    for name in COOKIES:
        flags = {part.strip().lower() for part in cookies[name].split(";")}
        assert "secure" in flags, cookies[name]
        assert "httponly" in flags, cookies[name]
        assert "samesite=lax" in flags, cookies[name]


def test_sign_in_cookies_carry_the_host_prefix_on_https_and_plain_names_on_loopback_http(
    portal, make_account
):
    admin = make_account()
    for secure, prefix in ((True, "__Host-"), (False, "")):
        app = create_app(portal.config.with_(secure_cookies=secure))
        client = app.test_client()
        client.environ_base["HTTP_REFERER"] = f"{'https' if secure else 'http'}://localhost/"
        response = sign_in(client, admin, remember=True)
        assert response.status_code == 302, response.get_data(as_text=True)
        headers = response.headers.getlist("Set-Cookie")
        names = {header.split("=", 1)[0] for header in headers}
        assert {f"{prefix}yc_session", f"{prefix}yc_remember"} <= names
        for header in headers:
            parts = {part.strip().lower() for part in header.split(";")}
            # What a browser demands of a __Host- cookie: Secure, Path=/, no Domain.
            assert "path=/" in parts, header
            assert not any(part.startswith("domain=") for part in parts), header
        assert client.get("/tasks/").status_code == 200


def test_pages_carry_a_strict_content_security_policy(portal, client):
    headers = client.get("/auth/sign-in").headers
    policy = headers["Content-Security-Policy"]
    assert "script-src 'self'" in policy
    assert "frame-ancestors 'none'" in policy
    assert headers["X-Content-Type-Options"] == "nosniff"


def test_passwords_are_stored_as_argon2id_hashes(portal, make_account):
    admin = make_account()
    with portal.app.app_context():
        stored = db.session.get(Account, admin.id).password_hash
    assert stored.startswith("$argon2id$")
    assert admin.password not in stored
    assert verify_password(stored, admin.password)
    assert not verify_password(stored, admin.password + "x")


OFF_SITE_TARGETS = (
    "https://evil.example/",
    "//evil.example/tasks/",
    "/\\evil.example/",
    "\\\\evil.example",
    "javascript:alert(1)",
    "http:/evil.example",
    "/%0d%0aSet-Cookie:x=y",
    "tasks/",
)


def test_sign_in_never_redirects_off_the_portal(portal, make_account):
    admin = make_account()
    for target in OFF_SITE_TARGETS:
        client = portal.client()
        response = client.post(
            "/auth/sign-in",
            data={
                "csrf_token": csrf_token(client, "/auth/sign-in?next=" + target),
                "email": admin.email,
                "password": admin.password,
                "code": admin.next_code(),
                "next": target,
            },
        )
        assert response.status_code == 302, target
        location = response.headers["Location"]
        assert location == "/tasks/" or location.startswith("/%"), (target, location)
        assert "evil" not in location
        assert "\r" not in location and "\n" not in location


def test_sign_in_returns_to_the_page_asked_for(portal, client, make_account):
    admin = make_account()
    page = client.get("/auth/sign-in?next=/tasks/%3Fstatus%3DFAILED").get_data(as_text=True)
    assert re.search(r'name="next"[^>]*value="/tasks/\?status=FAILED"', page)
    response = client.post(
        "/auth/sign-in",
        data={
            "csrf_token": csrf_token(client),
            "email": admin.email,
            "password": admin.password,
            "code": admin.next_code(),
            "next": "/tasks/?status=FAILED",
        },
    )
    assert response.headers["Location"] == "/tasks/?status=FAILED"
