from pathlib import Path

import pytest

from recon_image.errors import ModeError
from recon_image.modes.macros import MacroValues, command_line, expand


def values(**changes: object) -> MacroValues:
    base = {
        "input_dir": Path("/job/in put"),
        "scan_file": Path("/job/in put/scan.dat"),
        "task_file": Path("/job/in put/t.task"),
        "recon_out_dir": Path("/job/recon"),
        "task_name": "t",
        "post_in_dir": Path("/job/recon"),
        "post_out_dir": Path("/job/post-1"),
        "transfer_dir": Path("/job/post-1"),
        "tmp_dir": Path("/job/tmp"),
        "modules_dir": Path("/opt/modules"),
        "user_modules_dir": Path("/opt/user"),
        "modes_dir": Path("/opt/modes"),
        "mode_file": Path("/opt/modes/grasp.mode"),
        "acc": "",
        "param": "",
        "task_id": "1234",
        "unique_id": "abc",
    }
    base.update(changes)
    return MacroValues(**base)


EXPECTED = {
    "%rid": "/job/in put",
    "%rif": "/job/in put/scan.dat",
    "%rit": "/job/in put/t.task",
    "%rod": "/job/recon",
    "%rin": "t",
    "%pid": "/job/recon",
    "%pod": "/job/post-1",
    "%td": "/job/post-1",
    "%tmp": "/job/tmp",
    "%bd": "/opt/modules",
    "%bu": "/opt/user",
    "%md": "/opt/modes",
    "%mf": "grasp.mode",
    "%mc": "/opt/modes/grasp.mode",
    "%vacc": "0",
    "%vparam": "N",
    "%vtid": "1234",
    "%vuid": "1234_abc",
    "%hq": '"',
}


def test_every_macro_expands_to_its_value() -> None:
    text = "|".join(EXPECTED)

    assert expand(text, values()).split("|") == list(EXPECTED.values())


def test_longer_macros_win_over_their_prefixes() -> None:
    assert expand("%rif/%rid%rit", values()) == "/job/in put/scan.dat//job/in put/job/in put/t.task"
    assert expand("%vparam %vacc", values(param="12", acc="A1")) == "12 A1"


def test_a_value_holding_a_percent_sign_is_not_expanded_again() -> None:
    assert expand("%rin", values(task_name="%rod")) == "%rod"


def test_a_path_with_a_space_stays_one_argument_quoted_or_not() -> None:
    assert command_line("prog", "%rif %hq%rod/x y%hq --n %vparam", values(param="8")) == [
        "prog",
        "/job/in put/scan.dat",
        "/job/recon/x y",
        "--n",
        "8",
    ]


def test_an_unclosed_quote_is_a_mode_error() -> None:
    with pytest.raises(ModeError, match="close every quote"):
        command_line("prog", "%hq%rif", values())
