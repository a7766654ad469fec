from functions.core.keys import KeyKind, in_key, parse_in_key, task_prefix

TASK = "0f8fad5b-d9cb-469f-a165-70867728950e"


def test_keys_of_the_layout_parse():
    key = parse_in_key(f"alice/{TASK}/{TASK}.dat")
    assert key is not None
    assert (key.user, key.task_id, key.kind) == ("alice", TASK, KeyKind.RAW)
    assert parse_in_key(f"alice/{TASK}/{TASK}.task").kind is KeyKind.TASK
    assert parse_in_key(f"alice/{TASK}/{TASK}_0.h5").kind is KeyKind.RAW
    assert parse_in_key(f"alice/{TASK}/notes.txt").kind is KeyKind.OTHER


def test_keys_outside_the_layout_are_none():
    for key in [
        "",
        "alice",
        f"alice/{TASK}",
        f"alice/{TASK}/",
        "alice/not-a-uuid/x.dat",
        f"alice/{TASK.upper()}/x.dat",
        f"a/b/{TASK}/x.dat",
        f"bad user/{TASK}/x.dat",
    ]:
        assert parse_in_key(key) is None, key


def test_prefix_and_key_round_trip():
    assert task_prefix("alice", TASK) == f"alice/{TASK}/"
    assert parse_in_key(in_key("alice", TASK, "x.dat")).name == "x.dat"
