"""Task monitor: the list (filtered, paginated, live) and one task's details."""

from __future__ import annotations

from datetime import UTC, datetime

from flask import abort, current_app, flash, render_template, request, url_for
from flask_login import current_user, login_required
from pynamodb.exceptions import DoesNotExist

from functions.core.models import Site, Task, User
from portal_flask import backend
from portal_flask.auth.access import current_site_id, current_user_name, user_scoped_or_404
from portal_flask.models import OPERATOR, SITE_ADMIN, SITE_USER
from portal_flask.tasks import bp
from portal_flask.tasks.forms import STATUSES, FilterArgs, read_filter
from portal_flask.tasks.presenting import TaskRow
from portal_flask.tasks.queries import BadCursor, TaskFilter, TaskPage, task_page


def _scope(args: FilterArgs) -> TaskFilter:
    """The filter the signed-in account may run: its own tasks, its site's, or any site's."""
    role = current_user.role
    if role == SITE_USER:
        if not current_user_name():
            abort(403)  # a site user's account always names its user; this one is broken
        site, user = current_site_id(), current_user_name()
    elif role == SITE_ADMIN:
        site, user = current_site_id(), args.user or None
    elif role == OPERATOR:
        site, user = args.site or None, args.user or None
    else:
        abort(403)
    return TaskFilter(site, user, args.status or None, args.since, args.until)


def _page(args: FilterArgs) -> TaskPage:
    config = current_app.config["PORTAL"]
    task_filter = _scope(args)
    sites = []
    if task_filter.site_id is None and task_filter.user_name is None:
        sites = sorted(site.site_id for site in Site.scan(attributes_to_get=["site_id"]))
    try:
        return task_page(task_filter, args.cursor or None, config.tasks_page_size, sites)
    except BadCursor as exc:
        abort(400, description=str(exc))


def _rows(page: TaskPage) -> list[TaskRow]:
    currency = backend.settings().rates.currency
    return [TaskRow.of(task, currency) for task in page.tasks]


def _users() -> list[str]:
    if current_user.role != SITE_ADMIN:
        return []
    return sorted(user.user_name for user in User.site_index.query(current_site_id()))


def _sites() -> list[str]:
    if current_user.role != OPERATOR:
        return []
    return sorted(site.site_id for site in Site.scan(attributes_to_get=["site_id"]))


@bp.route("/")
@login_required
def index() -> str:
    args = read_filter(request.args)
    for problem in args.problems:
        flash(problem.capitalize() + ".", "warning")
    page = _page(args)
    return render_template(
        "tasks/index.html",
        args=args,
        rows=_rows(page),
        next_url=url_for("tasks.index", **args.query(cursor=page.next_cursor))
        if page.next_cursor
        else None,
        first_url=url_for("tasks.index", **args.query(cursor="")) if args.cursor else None,
        feed_url=url_for("tasks.feed", **args.query()),
        poll_seconds=current_app.config["PORTAL"].tasks_poll_seconds,
        statuses=STATUSES,
        users=_users(),
        sites=_sites(),
        show_site=current_user.role == OPERATOR,
        show_user=current_user.role != SITE_USER,
    )


@bp.route("/feed.json")
@login_required
def feed() -> dict:
    """The rows of the page the monitor shows, for its live updates."""
    args = read_filter(request.args)
    page = _page(args)
    html = render_template(
        "tasks/_rows.html",
        rows=_rows(page),
        show_site=current_user.role == OPERATOR,
        show_user=current_user.role != SITE_USER,
    )
    now = datetime.fromtimestamp(current_app.config["PORTAL"].clock(), UTC)
    return {"html": html, "updated": now.strftime("%H:%M:%S UTC"), "count": len(page.tasks)}


@bp.route("/<task_id>")
@login_required
def detail(task_id: str) -> str:
    if len(task_id) > 128:
        abort(404)
    try:
        task = Task.get(task_id)
    except DoesNotExist:
        abort(404)
    user_scoped_or_404(task.site_id, task.user_name)
    row = TaskRow.of(task, backend.settings().rates.currency)
    raw_files = _plain(task.raw_files)
    timeline = sorted(
        ((status, float(at)) for status, at in _plain(task.status_times).items()),
        key=lambda item: item[1],
    )
    return render_template(
        "tasks/detail.html",
        row=row,
        task=task,
        timeline=timeline,
        raw_count=len(raw_files),
        raw_bytes=sum(int(size) for size in raw_files.values()),
    )


def _plain(value) -> dict:
    """A raw map attribute as a dict (PynamoDB hands back a MapAttribute or a dict)."""
    if value is None:
        return {}
    return value.as_dict() if hasattr(value, "as_dict") else dict(value)
