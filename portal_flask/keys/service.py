"""The portal's handle on site users and keys: IAM through the backend, and the key hook.

On AWS, IAM is the only record of a key. A deployment that keeps its own copy
of each secret (the local cloud's API gateway verifies signatures from one)
installs a :class:`~administration.site_users.KeyHook` with
:func:`install_key_hook`.
"""

from __future__ import annotations

from flask import Flask, current_app

from administration.deployment import description, site_user_group, site_user_path
from administration.site_users import KeyHook, NoKeyHook, SiteUsers
from portal_flask import backend

KEY_HOOK = "portal_key_hook"


def install_key_hook(app: Flask, hook: KeyHook) -> None:
    """Tell ``hook`` of every key the portal creates or deletes in ``app``."""
    app.extensions[KEY_HOOK] = hook


def site_users() -> SiteUsers:
    return SiteUsers(
        iam=backend.client("iam"),
        group=site_user_group(description(), backend.settings()),
        hook=current_app.extensions.get(KEY_HOOK) or NoKeyHook(),
        path=site_user_path(description(), backend.settings()),
    )
