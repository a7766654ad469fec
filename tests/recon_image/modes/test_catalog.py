import json
from pathlib import Path

import pytest

from recon_image.errors import ModeError
from recon_image.modes.catalog import client_configs, main
from recon_image.settings import BUILTIN_MODES_DIR


def test_each_mode_is_published_under_its_file_stem(tmp_path: Path) -> None:
    (tmp_path / "knee_t1.mode").write_text(
        "[ClientConfig]\nName=Knee T1\nTag=t1_knee\nMinimumSizeMB=10\n[Reconstruction]\nBin=x\n"
    )
    (tmp_path / "unnamed.mode").write_text("[Reconstruction]\nBin=x\n")

    assert client_configs(tmp_path) == {
        "knee_t1": {"Name": "Knee T1", "Tag": "t1_knee", "MinimumSizeMB": "10"},
        "unnamed": {"Name": "unnamed"},
    }


def test_a_broken_mode_stops_publishing(tmp_path: Path) -> None:
    (tmp_path / "broken.mode").write_text("[ClientConfig]\nName=Broken\n")

    with pytest.raises(ModeError, match=r"'broken'.*no reconstruction"):
        client_configs(tmp_path)


def test_the_shipped_modes_offer_what_the_clients_list() -> None:
    configs = client_configs(BUILTIN_MODES_DIR)

    rss = configs["yc_cartesian"]
    assert rss["Name"] == "Cartesian FFT (root-sum-of-squares)"
    assert configs["yc_cartesian_adaptive"]["Name"] == (
        "Cartesian, adaptive coil combination, POCS partial Fourier"
    )
    for config in configs.values():
        assert {"Name", "Tag", "MinimumSizeMB", "SortIndex", "ParamLabel"} <= set(config)
        assert config["ParamIsFloat"] in ("true", "false")
        number = float if config["ParamIsFloat"] == "true" else int
        low, default, high = (number(config[k]) for k in ("ParamMin", "ParamDefault", "ParamMax"))
        assert low <= default <= high
    assert configs["yc_cs"]["ParamIsFloat"] == "true"
    assert configs["yc_grappa"]["Name"] == "GRAPPA parallel imaging"


def test_the_catalog_prints_as_json_for_provisioning(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 0

    printed = json.loads(capsys.readouterr().out)
    assert printed == client_configs(BUILTIN_MODES_DIR)
