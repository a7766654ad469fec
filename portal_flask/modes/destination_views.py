"""A site's destinations: where the agent sends each mode's images, and a C-ECHO to test a PACS."""

from __future__ import annotations

from flask import abort, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from functions.administration import destinations, mode_settings
from functions.administration.echo import echo
from functions.administration.errors import AdministrationError, UnknownDestination
from functions.core.destinations import Destination
from portal_flask.auth.access import audit, current_site_id, roles_required
from portal_flask.models import SITE_ADMIN
from portal_flask.modes import bp
from portal_flask.modes.forms import FolderForm, PacsForm

ECHO_TIMEOUT_SECONDS = 10


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


@bp.route("/destinations/<name>/echo", methods=["POST"])
@roles_required(SITE_ADMIN)
def destination_echo(name: str) -> Response:
    site_id = current_site_id()
    destination = _destination_or_404(site_id, name)
    if destination.method != "PACS":
        flash(f"{name} is a folder; only a PACS answers a C-ECHO.", "warning")
        return redirect(url_for("modes.destination_list"))
    result = echo(
        destination.ip,
        destination.port,
        called_aet=destination.aec,
        calling_aet=destination.aet,
        timeout_s=ECHO_TIMEOUT_SECONDS,
    )
    if result.ok:
        flash(f"C-ECHO to {name} succeeded: {result.message}", "success")
    else:
        flash(f"C-ECHO to {name} failed: {result.message}", "error")
    return redirect(url_for("modes.destination_list", _anchor=f"destination-{name}"))
