"""The task monitor: a site's reconstructions, live."""

from __future__ import annotations

from flask import Blueprint

from portal_flask.blueprints import ALL_ROLES, NavEntry

bp = Blueprint("tasks", __name__, url_prefix="/tasks")
NAV = (NavEntry("Tasks", "tasks.index", ALL_ROLES),)

from portal_flask.tasks import views  # noqa: E402, F401  (registers the routes)
from portal_flask.tasks.presenting import when  # noqa: E402

bp.add_app_template_filter(when, "task_time")
