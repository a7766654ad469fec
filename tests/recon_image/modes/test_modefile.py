from pathlib import Path

import pytest

from recon_image.errors import EXIT_BAD_INPUT, ModeError
from recon_image.modes.modefile import find_mode, load_mode, mode_ids, parse_mode
from recon_image.modes.runner import BUILTIN_PROGRAMS

YARRA_STYLE = """\
[ClientConfig]
Name=GRASP with BART
Tag=grasp
MinimumSizeMB=50
ParamLabel=Spokes per frame
ParamDefault=21

[PreProcessing]
Bin=%bd/fixheader
Args=%rif

[Reconstruction]
Bin=bart
Args=fft -u 7 %rid/in %rod/out

[PostProcessing]
Bin2=second
Args2=%pid %pod
Bin1=first
Args1=%pid %pod --percent 100%
Bin10=tenth

[Options]
KeepRawdata=true

[PACSTransfer]
IP=10.0.0.1
AEC=PACS
"""


def parse(text: str, mode_id: str = "grasp") -> object:
    return parse_mode(text.encode(), mode_id=mode_id, path=Path(f"/modes/{mode_id}.mode"))


def test_a_yarra_mode_keeps_its_client_config_steps_options_and_module_sections() -> None:
    mode = parse(YARRA_STYLE)

    assert mode.name == "GRASP with BART"
    assert dict(mode.client_config) == {
        "Name": "GRASP with BART",
        "Tag": "grasp",
        "MinimumSizeMB": "50",
        "ParamLabel": "Spokes per frame",
        "ParamDefault": "21",
    }
    assert [(s.binary, s.args) for s in mode.preprocessing] == [("%bd/fixheader", "%rif")]
    assert [(s.binary, s.args) for s in mode.reconstruction] == [
        ("bart", "fft -u 7 %rid/in %rod/out")
    ]
    assert [(s.key, s.binary, s.args) for s in mode.postprocessing] == [
        ("Bin1", "first", "%pid %pod --percent 100%"),
        ("Bin2", "second", "%pid %pod"),
        ("Bin10", "tenth", ""),
    ]
    assert dict(mode.options) == {"KeepRawdata": "true"}
    assert dict(mode.sections["PACSTransfer"]) == {"IP": "10.0.0.1", "AEC": "PACS"}
    assert [s.stage for s in mode.steps] == [
        "PreProcessing",
        "Reconstruction",
        "PostProcessing",
        "PostProcessing",
        "PostProcessing",
    ]


def test_latin1_mode_files_and_repeated_keys_are_read() -> None:
    text = "[ClientConfig]\nName=Kn\xf6chel\nName=Kn\xf6chel T1\n[Reconstruction]\nBin=x\n"
    mode = parse_mode(text.encode("latin-1"), mode_id="knee", path=Path("knee.mode"))

    assert mode.name == "Kn\xf6chel T1"
    assert mode.reconstruction[0].args == ""


def test_a_mode_without_reconstruction_is_refused_with_what_to_fix() -> None:
    with pytest.raises(ModeError, match=r"no reconstruction.*\[Reconstruction\].*Bin") as info:
        parse("[ClientConfig]\nName=Broken\n[PostProcessing]\nBin=x\n", mode_id="broken")

    assert info.value.exit_code == EXIT_BAD_INPUT
    assert "'broken'" in str(info.value)


def test_text_that_is_not_ini_is_a_mode_error() -> None:
    with pytest.raises(ModeError, match="not a valid mode file"):
        parse("Bin=x without a section\n")


def test_find_mode_names_the_modes_that_exist(tmp_path: Path) -> None:
    (tmp_path / "alpha.mode").write_text("[Reconstruction]\nBin=a\n")
    (tmp_path / "beta.mode").write_text("[Reconstruction]\nBin=b\n")
    (tmp_path / "notes.txt").write_text("not a mode")

    assert find_mode(tmp_path, "beta").reconstruction[0].binary == "b"
    assert mode_ids(tmp_path) == ["alpha", "beta"]
    with pytest.raises(ModeError, match=r"'gamma' does not exist.*alpha, beta"):
        find_mode(tmp_path, "gamma")


@pytest.mark.parametrize("mode_id", ["../etc/passwd", "a/b", "", ".hidden"])
def test_a_mode_id_is_never_a_path(tmp_path: Path, mode_id: str) -> None:
    with pytest.raises(ModeError, match="not a mode name"):
        find_mode(tmp_path, mode_id)


def test_the_builtin_modes_parse_and_run_the_builtin_program() -> None:
    folder = Path(__file__).resolve().parents[3] / "recon_image" / "modes" / "builtin"
    ids = mode_ids(folder)

    assert {"yc_cartesian", "yc_cartesian_adaptive", "yc_grappa", "yc_sense", "yc_cs"} <= set(ids)
    for mode_id in ids:
        mode = load_mode(folder / f"{mode_id}.mode")
        assert mode.reconstruction[0].binary in BUILTIN_PROGRAMS
        assert mode.client_config["Name"]
    assert load_mode(folder / "yc_cartesian.mode").name == "Cartesian FFT (root-sum-of-squares)"
    assert (
        load_mode(folder / "yc_cartesian_adaptive.mode").name
        == "Cartesian, adaptive coil combination, POCS partial Fourier"
    )
