"""A site's destinations: where the agent sends each mode's images, and tests run at the site.

The "Test" button asks the site's agent to test the destination (C-ECHO to a PACS, a
test write to a folder) from the hospital network, and the page shows what it
reported (``functions.core.connection_tests``). The portal itself opens no
connection to an address typed into its forms.
"""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from administration import destinations, mode_settings
from administration.errors import AdministrationError, UnknownDestination
from administration.sites import get_site
from functions.core import connection_tests
from functions.core.clock import system_clock
from functions.core.destinations import Destination
from portal_flask.auth.access import audit, current_site_id, roles_required
from portal_flask.models import SITE_ADMIN
from portal_flask.modes import bp
from portal_flask.modes.forms import FolderForm, PacsForm


def _mode_choices(site_id: str) -> list[SelectChoice]:
    return [
        SelectChoice(m.mode_id, m.name) for m in mode_settings.site_modes(site_id) if not m.retired
    ]


def _forms(site_id: str) -> tuple[PacsForm, FolderForm]:
    choices = _mode_choices(site_id)
    pacs, folder = PacsForm(prefix="pacs"), FolderForm(prefix="folder")
    pacs.modes.choices = folder.modes.choices = choices
    return pacs, folder


def _page(site_id: str, pacs: PacsForm, folder: FolderForm, status: int = 200):
    names = {choice.value: choice.label for choice in _mode_choices(site_id)}
    return (
        render_template(
            "modes/destinations.html",
            destinations=destinations.list_destinations(site_id),
            tests=connection_tests.last_tests(get_site(site_id)),
            mode_names=names,
            pacs_form=pacs,
            folder_form=folder,
        ),
        status,
    )


def _destination_or_404(site_id: str, name: str) -> Destination:
    try:
        return destinations.find_destination(site_id, name)
    except UnknownDestination:
        abort(404)


def _store(site_id: str, destination: Destination) -> Response | None:
    try:
        replaced = destinations.put_destination(site_id, destination)
    except AdministrationError as exc:
        flash(f"Not saved: {exc}.", "error")
        return None
    record = destination.to_record()
    audit("destination.replace" if replaced else "destination.add", destination.name, record)
    flash(
        f"{'Replaced' if replaced else 'Added'} destination {destination.name}. Agents pick it"
        " up with their next task.",
        "success",
    )
    return redirect(url_for("modes.destination_list"))


@bp.route("/destinations/")
@roles_required(SITE_ADMIN)
def destination_list():
    site_id = current_site_id()
    return _page(site_id, *_forms(site_id))


@bp.route("/destinations/pacs", methods=["POST"])
@roles_required(SITE_ADMIN)
def destination_add_pacs():
    site_id = current_site_id()
    pacs, folder = _forms(site_id)
    if pacs.validate_on_submit():
        destination = Destination(
            name=pacs.name.data.strip(),
            method="PACS",
            ip=pacs.host.data.strip(),
            port=int(pacs.port.data),
            aet=pacs.aet.data.strip(),
            aec=pacs.aec.data.strip(),
            modes=tuple(pacs.modes.data or ()),
        )
        done = _store(site_id, destination)
        if done is not None:
            return done
    else:
        flash("The PACS was not added: correct the fields marked below.", "error")
    return _page(site_id, pacs, folder, 400)


@bp.route("/destinations/folder", methods=["POST"])
@roles_required(SITE_ADMIN)
def destination_add_folder():
    site_id = current_site_id()
    pacs, folder = _forms(site_id)
    if folder.validate_on_submit():
        destination = Destination(
            name=folder.name.data.strip(),
            method="smb",
            location=folder.location.data.strip(),
            modes=tuple(folder.modes.data or ()),
        )
        done = _store(site_id, destination)
        if done is not None:
            return done
    else:
        flash("The folder was not added: correct the fields marked below.", "error")
    return _page(site_id, pacs, folder, 400)


@bp.route("/destinations/<name>/remove", methods=["POST"])
@roles_required(SITE_ADMIN)
def destination_remove(name: str) -> Response:
    site_id = current_site_id()
    _destination_or_404(site_id, name)
    removed = destinations.remove_destination(site_id, name)
    audit("destination.remove", name, removed.to_record())
    flash(f"Removed destination {name}.", "success")
    return redirect(url_for("modes.destination_list"))


@bp.route("/destinations/<name>/test", methods=["POST"])
@roles_required(SITE_ADMIN)
def destination_test(name: str) -> Response:
    site_id = current_site_id()
    _destination_or_404(site_id, name)
    connection_tests.request_test(get_site(site_id), name, now=system_clock())
    audit("destination.test", name, {})
    flash(
        f"The agent at your site will test {name} from there and report back here at its next"
        " poll; reload this page to see the result.",
        "success",
    )
    return redirect(url_for("modes.destination_list", _anchor=f"destination-{name}"))
