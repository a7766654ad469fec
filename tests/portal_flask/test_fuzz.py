"""No query or form value gives a 500: every page's parameters, each given hostile values.

The pages are every GET route of the app (routes with arguments get values naming
real objects where the security tests know how, and junk otherwise). The
parameters are those the pages' forms and links carry, and every name the
portal's source reads from ``request.args`` or ``request.form``; each is sent,
one at a time, with each value below, to every page and form action.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from portal_flask.tasks.queries import encode_cursor
from tests.portal_flask.helpers import csrf_token

# Request parsing does not depend on the database: the fuzz runs on PostgreSQL, what
# production runs; every route's behaviour is tested on both databases elsewhere.
pytestmark = [
    pytest.mark.slow,
    pytest.mark.parametrize("database_url", ["postgresql"], indirect=True),
]

HOSTILE = (
    "",
    "nan",
    "-inf",
    "9" * 40,
    "x" * 5000,
    "2026-02-30",
    "'\"<script>",
    "\x00",
    "../..",
    "ü",
    # well-formed task-list cursors (a site's, a user's) at no time
    encode_cursor({"site-b": ["nan", "x"]}),
    encode_cursor({"carol": ["nan", "x"]}),
)

#: Forms whose purpose is to end the session they are sent from.
ENDS_SESSION = re.compile(r"^/auth/(sign-out|sessions/\d+/revoke)$")
SOURCE = Path(__file__).resolve().parents[2] / "portal_flask"
_READ = re.compile(r"""(?:args|form)\.get\(\s*['"]([A-Za-z_][\w-]*)['"]""")


def names_read_by_the_source() -> set[str]:
    return {m for path in SOURCE.rglob("*.py") for m in _READ.findall(path.read_text())}


class Forms(HTMLParser):
    """The forms of a page (action, method, fields with their values) and its links' queries."""

    def __init__(self, page_url: str) -> None:
        super().__init__()
        self.page_url = page_url
        self.forms: list[tuple[str, str, dict[str, str]]] = []
        self.link_names: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = {k: v or "" for k, v in attrs}
        if tag == "form":
            action = urlsplit(a.get("action") or self.page_url).path
            self.forms.append((action, (a.get("method") or "get").upper(), {}))
        elif tag in ("input", "select", "textarea", "button") and a.get("name") and self.forms:
            self.forms[-1][2].setdefault(a["name"], a.get("value", ""))
        elif tag == "a" and "?" in a.get("href", ""):
            self.link_names.update(k for k, _ in parse_qsl(urlsplit(a["href"]).query))


def page_urls(portal) -> list[str]:
    from tests.portal_flask.cross_site import OTHER_SITE

    urls = []
    with portal.app.test_request_context():
        from flask import url_for

        for rule in portal.app.url_map.iter_rules():
            if "GET" not in rule.methods or rule.endpoint == "static":
                continue
            if not rule.arguments:
                urls.append(rule.rule)
            elif rule.endpoint in OTHER_SITE:
                urls.append(url_for(rule.endpoint, **OTHER_SITE[rule.endpoint](portal)))
            else:
                urls.append(url_for(rule.endpoint, **dict.fromkeys(rule.arguments, "nan")))
    return sorted(urls)


@pytest.mark.parametrize("role", ["signed_out", "operator", "site_admin", "site_user"])
def test_no_parameter_value_gives_a_server_error(portal, make_account, sign_in, role):
    client = portal.client()
    if role != "signed_out":
        sign_in(client, make_account(role, None if role == "operator" else "site-b"))
    source_names = names_read_by_the_source()
    token = csrf_token(client, "/auth/forgot-password")
    failures, requests = [], 0
    for url in page_urls(portal):
        response = client.get(url)
        assert response.status_code < 500, url
        parsed = Forms(url)
        if response.status_code == 200 and response.mimetype == "text/html":
            parsed.feed(response.get_data(as_text=True))
        targets = [(url, "GET", {})] + [f for f in parsed.forms if not ENDS_SESSION.match(f[0])]
        for action, method, fields in targets:
            names = set(fields) | source_names
            if method == "GET":
                names |= parsed.link_names
            names.discard("csrf_token")
            for name in sorted(names):
                for value in HOSTILE:
                    data = {**fields, name: value}
                    if method == "GET":
                        answer = client.get(f"{action}?{urlencode(data)}")
                    else:
                        data["csrf_token"] = token
                        answer = client.post(action, data=data)
                    requests += 1
                    if answer.status_code >= 500:
                        failures.append((method, action, name, value[:20], answer.status_code))
    assert requests > 500
    assert not failures, failures
    if role != "signed_out":
        assert client.get("/tasks/").status_code == 200  # still signed in: every form was sent
