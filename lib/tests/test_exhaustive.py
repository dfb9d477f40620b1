"""A table over an enumeration that leaves a member out stops the import, naming it."""

from __future__ import annotations

from enum import Enum

import pytest

from evcharging.exhaustive import NotExhaustive, every_member, every_member_in_order


class Light(Enum):
    RED = "red"
    AMBER = "amber"
    GREEN = "green"


def test_a_complete_table_is_kept_as_it_is() -> None:
    table = {Light.RED: "stop", Light.AMBER: "wait", Light.GREEN: "go"}
    assert every_member(Light, table) == table
    order = (Light.GREEN, Light.AMBER, Light.RED)
    assert every_member_in_order(Light, order) == order


def test_a_missing_member_is_named() -> None:
    with pytest.raises(NotExhaustive, match=r"no entry for Light AMBER, GREEN"):
        every_member(Light, {Light.RED: "stop"})
    with pytest.raises(NotExhaustive, match=r"no entry for Light AMBER"):
        every_member_in_order(Light, (Light.RED, Light.GREEN))


def test_an_order_naming_a_member_twice_is_refused() -> None:
    with pytest.raises(NotExhaustive, match="named twice"):
        every_member_in_order(Light, (Light.RED, Light.AMBER, Light.GREEN, Light.RED))
