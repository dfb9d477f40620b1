"""The contract's enumerations, where Python cannot check them: the database's
ENUM columns and the page's stylesheet. A state added to `CpState` and left out
of either would be refused by MariaDB, or drawn without a colour."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from evcharging.messages import CpState, EndReason

ROOT = Path(__file__).resolve().parents[2]
INIT_SQL = (ROOT / "infra/db/init.sql").read_text()
APP_CSS = (ROOT / "services/central-web/central_web/static/app.css").read_text()


def enum_column(table: str, column: str) -> set[str]:
    body = re.search(rf"CREATE TABLE[^(]*\b{table}\b\s*\((.*?)\n\)", INIT_SQL, re.S)
    assert body, f"no CREATE TABLE {table} in init.sql"
    values = re.search(rf"^\s*{column}\s+ENUM\(([^)]*)\)", body.group(1), re.M)
    assert values, f"no ENUM column {table}.{column} in init.sql"
    return set(re.findall(r"'([^']*)'", values.group(1)))


def test_the_charging_points_state_column_takes_every_cp_state() -> None:
    assert enum_column("charging_points", "estado") == {state.value for state in CpState}


def test_the_supplies_state_column_takes_every_end_reason_and_en_curso() -> None:
    assert enum_column("suministros", "estado") == {"en_curso"} | {reason.value for reason in EndReason}


@pytest.mark.parametrize("state", list(CpState))
def test_the_page_has_a_colour_and_a_badge_for_every_state(state: CpState) -> None:
    for rule in (f"--{state.value}:", f"--on-{state.value}:", f".dot-{state.value} "):
        assert rule in APP_CSS, f"app.css has no {rule!r}"
