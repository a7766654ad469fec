"""Size presets priced from the rate table, and the agent's config text."""

from __future__ import annotations

import tomllib

import pytest

from administration.agent_config import agent_config_text
from administration.errors import AdministrationError
from administration.sizes import SIZES, price, price_list, size_named, size_of
from functions.core.pricing import Rates, job_cost_micros

RATES = Rates("USD", 40_000, 4_000, 12_000, 1_200)


def test_each_preset_costs_what_an_hour_of_a_job_of_that_size_costs():
    for size in SIZES:
        priced = price(RATES, size)
        for spot, hourly in ((False, priced.on_demand_micros), (True, priced.spot_micros)):
            assert hourly == job_cost_micros(
                RATES, seconds=3600, vcpus=size.vcpus, memory_gib=size.memory_gib, spot=spot
            )


def test_spot_saving_is_the_share_spot_takes_off_the_on_demand_price():
    medium = price(RATES, size_named("medium"))
    assert (medium.on_demand_micros, medium.spot_micros) == (224_000, 67_200)
    assert medium.spot_saving_percent == 70
    assert [p.size.name for p in price_list(RATES)] == ["small", "medium", "large", "xlarge"]
    assert [p.size.vcpus for p in price_list(RATES)] == [2, 4, 8, 16]


def test_a_size_is_found_by_its_resources_or_its_name():
    assert size_of(8, 32 * 1024).name == "large"
    assert size_of(2, 4096) is None
    with pytest.raises(AdministrationError, match="choose one of small, medium, large, xlarge"):
        size_named("huge")


def test_the_agent_config_is_toml_the_agent_reads():
    text = agent_config_text(
        api_url='https://api.example/"v1"',
        region="eu-central-1",
        access_key_id="AKIAEXAMPLE",
        secret_file="agent.secret",
        base="/data/yarra",
    )
    config = tomllib.loads(text)
    assert config["cloud"] == {
        "api_url": 'https://api.example/"v1"',
        "region": "eu-central-1",
        "access_key_id": "AKIAEXAMPLE",
        "secret_file": "agent.secret",
    }
    assert config["folders"] == {"base": "/data/yarra"}
    assert "chmod 600" in text
