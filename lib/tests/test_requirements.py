"""Every version is pinned once, in constraints.txt: the services' requirements and the
development requirements name packages, and each name has exactly one pin."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
REQUIREMENTS = [*sorted(ROOT.glob("services/*/*requirements.txt")), ROOT / "requirements-dev.txt"]
NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")


def lines(path: Path) -> list[str]:
    return [
        line.strip() for line in path.read_text().splitlines() if line.strip() and not line.startswith("#")
    ]


def pins() -> dict[str, str]:
    found: dict[str, str] = {}
    for line in lines(ROOT / "constraints.txt"):
        name, separator, version = line.partition("==")
        assert separator, f"constraints.txt: {line!r} is not name==version"
        assert version, f"constraints.txt: {line!r} has no version"
        assert name.lower() not in found, f"constraints.txt pins {name} twice"
        found[name.lower()] = version
    return found


@pytest.mark.parametrize("path", REQUIREMENTS, ids=lambda path: str(path.relative_to(ROOT)))
def test_a_requirements_file_names_packages_whose_versions_are_in_constraints(path: Path) -> None:
    pinned = pins()
    for line in lines(path):
        if line.startswith(("-e ", "-c ")):
            continue
        if line.startswith("-r "):  # another service's requirements, in the same image
            assert (path.parent / line[3:]).is_file(), f"{path.name}: {line!r} names no file"
            continue
        assert NAME.match(line), f"{path.name}: {line!r} has a version; it belongs in constraints.txt"
        assert line.lower() in pinned, f"{path.name}: {line} has no version in constraints.txt"


def test_every_pin_is_needed_somewhere() -> None:
    named = {line.lower() for path in REQUIREMENTS for line in lines(path) if NAME.match(line)}
    assert set(pins()) - named == set(), "constraints.txt pins packages nobody asks for"
