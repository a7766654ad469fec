"""Instance size presets for a mode, with what an hour of each costs on spot and on demand.

Reconstruction holds every coil's k-space and image in memory, so the presets
give 4 GiB per vCPU (the general-purpose instance families' ratio): enough for
multi-coil 3D data at the larger sizes, and the smallest still fits a 2D scan.
"""

from __future__ import annotations

from dataclasses import dataclass

from administration.errors import AdministrationError
from functions.core.pricing import Rates


@dataclass(frozen=True)
class Size:
    name: str
    label: str
    vcpus: int
    memory_mib: int

    @property
    def memory_gib(self) -> float:
        return self.memory_mib / 1024


SIZES: tuple[Size, ...] = (
    Size("small", "Small", 2, 8 * 1024),
    Size("medium", "Medium", 4, 16 * 1024),
    Size("large", "Large", 8, 32 * 1024),
    Size("xlarge", "Extra large", 16, 64 * 1024),
)
SIZES_BY_NAME = {size.name: size for size in SIZES}


@dataclass(frozen=True)
class SizePrice:
    """A size's price per hour, in millionths of ``currency``, and what spot saves."""

    size: Size
    currency: str
    on_demand_micros: int
    spot_micros: int

    @property
    def spot_saving_percent(self) -> int:
        """How much less an hour on spot costs than on demand, in whole percent."""
        if self.on_demand_micros <= 0:
            return 0
        return round(100 * (self.on_demand_micros - self.spot_micros) / self.on_demand_micros)


def hourly_micros(rates: Rates, *, vcpus: float, memory_mib: float, spot: bool) -> int:
    """An hour of ``vcpus`` and ``memory_mib``, priced as :func:`job_cost_micros` prices jobs."""
    gib = memory_mib / 1024
    if spot:
        return round(vcpus * rates.vcpu_hour_spot + gib * rates.gib_hour_spot)
    return round(vcpus * rates.vcpu_hour_on_demand + gib * rates.gib_hour_on_demand)


def price(rates: Rates, size: Size) -> SizePrice:
    return SizePrice(
        size=size,
        currency=rates.currency,
        on_demand_micros=hourly_micros(
            rates, vcpus=size.vcpus, memory_mib=size.memory_mib, spot=False
        ),
        spot_micros=hourly_micros(rates, vcpus=size.vcpus, memory_mib=size.memory_mib, spot=True),
    )


def price_list(rates: Rates) -> list[SizePrice]:
    """Every preset with its prices, smallest first."""
    return [price(rates, size) for size in SIZES]


def size_of(vcpus: float, memory_mib: float) -> Size | None:
    """The preset with exactly these resources, or None for a custom size."""
    for size in SIZES:
        if size.vcpus == vcpus and size.memory_mib == memory_mib:
            return size
    return None


def size_named(name: str) -> Size:
    try:
        return SIZES_BY_NAME[name]
    except KeyError:
        known = ", ".join(SIZES_BY_NAME)
        raise AdministrationError(f"there is no size {name!r}; choose one of {known}") from None
