"""A site's modes: the list with sizes and prices, and one mode's settings form."""

from __future__ import annotations

from dataclasses import dataclass

from flask import abort, flash, redirect, render_template, url_for
from werkzeug.wrappers import Response
from wtforms import SelectChoice

from administration import mode_settings
from administration.display import duration, money
from administration.errors import AdministrationError
from administration.mode_settings import SiteMode
from administration.sizes import SIZES_BY_NAME, hourly_micros, price_list, size_of
from functions.core.pricing import Rates
from portal_flask import backend
from portal_flask.auth.access import audit, current_site_id, roles_required
from portal_flask.models import SITE_ADMIN
from portal_flask.modes import bp
from portal_flask.modes.forms import ModeForm

CUSTOM = "custom"


@dataclass(frozen=True)
class ModeRow:
    mode: SiteMode
    size: str
    resources: str
    purchase: str
    per_hour: str
    time_limit: str


def describe(mode: SiteMode, rates: Rates) -> ModeRow:
    s = mode.settings
    preset = size_of(int(s.vcpus), int(s.memory_mib))
    per_hour = hourly_micros(rates, vcpus=s.vcpus, memory_mib=s.memory_mib, spot=bool(s.spot))
    return ModeRow(
        mode=mode,
        size=preset.label if preset else "Custom",
        resources=f"{int(s.vcpus)} vCPUs, {s.memory_mib / 1024:g} GiB",
        purchase="Spot" if s.spot else "On-demand",
        per_hour=money(per_hour, rates.currency),
        time_limit=duration(float(s.timeout_seconds)),
    )


def site_mode_or_404(site_id: str, mode_id: str) -> SiteMode:
    for mode in mode_settings.site_modes(site_id):
        if mode.mode_id == mode_id:
            return mode
    abort(404)


@bp.route("/")
@roles_required(SITE_ADMIN)
def index() -> str:
    site_id = current_site_id()
    rates = backend.settings().rates
    rows = [describe(mode, rates) for mode in mode_settings.site_modes(site_id)]
    return render_template("modes/index.html", rows=rows, prices=price_list(rates), money=money)


@bp.route("/<mode_id>/settings", methods=["GET", "POST"])
@roles_required(SITE_ADMIN)
def edit(mode_id: str) -> tuple[str, int] | Response:
    site_id = current_site_id()
    mode = site_mode_or_404(site_id, mode_id)
    settings = mode.settings
    current = size_of(int(settings.vcpus), int(settings.memory_mib))
    form = ModeForm()
    custom_label = f"Custom: {int(settings.vcpus)} vCPUs, {settings.memory_mib / 1024:g} GiB (keep)"
    if current is None:
        form.size.choices = [*form.size.choices, SelectChoice(CUSTOM, custom_label)]
    if not form.is_submitted():
        form.enabled.data = mode.enabled
        form.size.data = current.name if current else CUSTOM
        form.purchase.data = "spot" if settings.spot else "on_demand"
        form.timeout_minutes.data = max(1, round(float(settings.timeout_seconds) / 60))
    elif form.validate():
        chosen = SIZES_BY_NAME.get(form.size.data or "")
        vcpus = chosen.vcpus if chosen else int(settings.vcpus)
        memory_mib = chosen.memory_mib if chosen else int(settings.memory_mib)
        spot = form.purchase.data == "spot"
        timeout_seconds = int(form.timeout_minutes.data) * 60
        try:
            mode_settings.save_mode_settings(
                site_id,
                mode_id,
                enabled=bool(form.enabled.data),
                vcpus=vcpus,
                memory_mib=memory_mib,
                spot=spot,
                timeout_seconds=timeout_seconds,
            )
        except AdministrationError as exc:
            flash(f"Not saved: {exc}.", "error")
        else:
            details = {
                "enabled": bool(form.enabled.data),
                "size": chosen.name if chosen else CUSTOM,
                "vcpus": vcpus,
                "memory_mib": memory_mib,
                "spot": spot,
                "timeout_seconds": timeout_seconds,
            }
            audit("mode.update", mode_id, details)
            flash(
                f"Saved {mode.name}: {'enabled' if details['enabled'] else 'disabled'},"
                f" {vcpus} vCPUs and {memory_mib / 1024:g} GiB,"
                f" {'spot' if spot else 'on-demand'}, time limit {duration(timeout_seconds)}."
                " The next task of this mode runs with these settings.",
                "success",
            )
            return redirect(url_for("modes.index"))
    rates = backend.settings().rates
    page = render_template(
        "modes/edit.html",
        form=form,
        mode=mode,
        prices=price_list(rates),
        custom_label=custom_label if current is None else None,
        saving=price_list(rates)[0].spot_saving_percent,
        money=money,
    )
    return page, 400 if form.is_submitted() else 200
