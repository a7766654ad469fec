"""Compute rates and the cost of a job, in millionths of the currency unit."""

from __future__ import annotations

from dataclasses import dataclass

MICROS = 1_000_000


@dataclass(frozen=True)
class Rates:
    """Prices per hour, in millionths of the currency unit (USD micros)."""

    currency: str
    vcpu_hour_on_demand: int
    gib_hour_on_demand: int
    vcpu_hour_spot: int
    gib_hour_spot: int


# Per-vCPU and per-GiB hourly rates of on-demand and spot capacity in each region
# the service deploys to; a deployment may override them with YC_RATES.
REGION_RATES: dict[str, Rates] = {
    "us-east-1": Rates("USD", 40_480, 4_445, 12_144, 1_334),
    "eu-central-1": Rates("USD", 46_560, 5_110, 13_968, 1_533),
}


def rates_for_region(region: str) -> Rates:
    """The default rate table of ``region`` (us-east-1's where the region has none)."""
    return REGION_RATES.get(region, REGION_RATES["us-east-1"])


def job_cost_micros(
    rates: Rates, *, seconds: float, vcpus: float, memory_gib: float, spot: bool
) -> int:
    """Cost of ``seconds`` of a job holding ``vcpus`` and ``memory_gib``, rounded to a micro."""
    if spot:
        per_hour = vcpus * rates.vcpu_hour_spot + memory_gib * rates.gib_hour_spot
    else:
        per_hour = vcpus * rates.vcpu_hour_on_demand + memory_gib * rates.gib_hour_on_demand
    return round(max(seconds, 0.0) * per_hour / 3600)


def micros_to_amount(micros: int) -> float:
    """Micros as a decimal amount of the currency, for display and the v1 API."""
    return micros / MICROS
