"""Which id a replica without one gets."""

from __future__ import annotations

from central_auth.auto_ids import auto_id_number, choose_auto_id, format_auto_id, is_auto_id

P = "CP-A"


def test_the_first_replica_creates_the_first_id() -> None:
    choice = choose_auto_id(P, reusable=[], existing=[], taken=[])
    assert (choice.cp_id, choice.is_new) == ("CP-A001", True)


def test_the_lowest_free_registered_id_is_reused() -> None:
    ids = ["CP-A001", "CP-A002", "CP-A003"]
    choice = choose_auto_id(P, reusable=ids, existing=ids, taken=["CP-A001"])
    assert (choice.cp_id, choice.is_new) == ("CP-A002", False)


def test_lowest_is_numeric_not_alphabetical() -> None:
    ids = ["CP-A1000", "CP-A999"]
    assert choose_auto_id(P, reusable=ids, existing=ids, taken=[]).cp_id == "CP-A999"


def test_a_new_id_is_made_only_when_every_one_is_in_use() -> None:
    ids = ["CP-A001", "CP-A002"]
    choice = choose_auto_id(P, reusable=ids, existing=ids, taken=ids)
    assert (choice.cp_id, choice.is_new) == ("CP-A003", True)


def test_a_new_id_fills_the_lowest_gap_and_skips_ids_being_claimed() -> None:
    existing = ["CP-A001", "CP-A003"]
    choice = choose_auto_id(P, reusable=existing, existing=existing, taken=[*existing, "CP-A002"])
    assert choice.cp_id == "CP-A004"


def test_an_explicit_row_with_the_prefix_is_never_handed_out_nor_collided_with() -> None:
    choice = choose_auto_id(P, reusable=[], existing=["CP-A001"], taken=[])
    assert choice.cp_id == "CP-A002"


def test_only_prefix_plus_digits_is_an_auto_id() -> None:
    assert auto_id_number(P, "CP-A042") == 42
    assert is_auto_id(P, format_auto_id(P, 7))
    assert not is_auto_id(P, "CP-A42")
    assert not is_auto_id(P, "CP-Ax001")
    assert not is_auto_id(P, "CP001")
    assert not is_auto_id("T.1", "Tx1001")  # the prefix is literal, not a pattern
