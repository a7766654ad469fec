"""The administration portal: sites, users and keys, mode settings, tasks, usage, billing."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime, timedelta

from flask import Flask

from portal_flask.config import PortalConfig


def create_app(config: PortalConfig | None = None) -> Flask:
    """Build the portal's Flask application.

    Parameters
    ----------
    config
        The deployment's configuration; ``None`` reads it from the environment
        (:meth:`PortalConfig.from_env`). Tests pass their own.
    """
    from functions.billing.stripe_gateway import check_set_up
    from functions.core.models import bind_models
    from portal_flask import errors, observability, views
    from portal_flask.auth import sessions
    from portal_flask.blueprints import BLUEPRINT_MODULES
    from portal_flask.extensions import csrf, db, login_manager
    from portal_flask.migrate import upgrade
    from portal_flask.models import Account

    config = config or PortalConfig.from_env()
    observability.init(config)
    # The __Host- prefix makes browsers keep a cookie only when it is Secure, for the
    # whole host and no domain, so a sibling subdomain cannot plant or overwrite it.
    # Browsers refuse the prefix on plain HTTP, so a loopback run keeps plain names.
    cookie_prefix = "__Host-" if config.secure_cookies else ""
    app = Flask(__name__)
    app.config.update(
        PORTAL=config,
        SECRET_KEY=config.secret_key,
        SQLALCHEMY_DATABASE_URI=config.database_url,
        SQLALCHEMY_ENGINE_OPTIONS={"pool_pre_ping": True},
        PREFERRED_URL_SCHEME="https" if config.secure_cookies else "http",
        SESSION_COOKIE_NAME=f"{cookie_prefix}yc_session",
        SESSION_COOKIE_PATH="/",
        SESSION_COOKIE_SECURE=config.secure_cookies,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=config.session_hours),
        REMEMBER_COOKIE_NAME=f"{cookie_prefix}yc_remember",
        REMEMBER_COOKIE_PATH="/",
        REMEMBER_COOKIE_SECURE=config.secure_cookies,
        REMEMBER_COOKIE_HTTPONLY=True,
        REMEMBER_COOKIE_SAMESITE="Lax",
        REMEMBER_COOKIE_DURATION=timedelta(days=config.remember_days),
        WTF_CSRF_TIME_LIMIT=config.session_hours * 3600,
        WTF_CSRF_SSL_STRICT=config.secure_cookies,
        MAX_CONTENT_LENGTH=1024 * 1024,
    )
    if config.proxy_hops:
        from werkzeug.middleware.proxy_fix import ProxyFix

        app.wsgi_app = ProxyFix(  # type: ignore[method-assign]
            app.wsgi_app, x_for=config.proxy_hops, x_proto=config.proxy_hops
        )
    if config.auto_migrate:
        upgrade(config.database_url)
    if config.backend is not None:
        bind_models(config.backend)
    if config.stripe is not None:
        check_set_up(config.stripe.gateway())

    db.init_app(app)
    csrf.init_app(app)
    login_manager.init_app(app)
    login_manager.login_view = "auth.sign_in"
    login_manager.login_message = "Sign in to see that page."
    login_manager.login_message_category = "info"
    login_manager.session_protection = "strong"

    @login_manager.user_loader
    def load_account(token: str) -> Account | None:
        now = datetime.fromtimestamp(config.clock(), UTC)
        return sessions.load(token, now, config)

    nav = []
    for name in BLUEPRINT_MODULES:
        module = importlib.import_module(name)
        app.register_blueprint(module.bp)
        nav.extend(module.NAV)
    app.extensions["portal_nav"] = tuple(nav)
    app.register_blueprint(views.bp)
    errors.register(app)
    return app
