"""The Stripe stand-in, set up as ``scripts/admin stripe setup`` sets up an account, and a
local cloud whose billing reads its Stripe secret from the local Secrets Manager."""

from __future__ import annotations

from typing import Any

import pytest

from tests.helpers.stripe_server import StripeStandIn, set_up_account, stripe_api

__all__ = ["stripe_api"]


def stripe_options(stripe_api: StripeStandIn, currency: str = "usd") -> dict[str, Any]:
    """LocalCloud options: the stand-in's address, and the secret the set-up makes there."""
    return {
        "settings_overrides": {"stripe_api_base": stripe_api.url},
        "stripe_secret": set_up_account(stripe_api, currency),
    }


@pytest.fixture
def billing_cloud(seeded_cloud, stripe_api):
    """``seeded_cloud`` with Stripe set up on the stand-in."""

    def make(**options):
        stripe_set_up = stripe_options(stripe_api)
        overrides = {
            **stripe_set_up["settings_overrides"],
            **options.pop("settings_overrides", {}),
        }
        return seeded_cloud(
            settings_overrides=overrides, stripe_secret=stripe_set_up["stripe_secret"], **options
        )

    return make
