"""Every version is pinned once, in constraints.txt: the services' requirements and the
development requirements name packages, and each name has exactly one pin."""

from __future__ import annotations

import ast
import re
import sys
from importlib.metadata import PackageNotFoundError, packages_distributions, requires
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


SERVICES = sorted(path.parent for path in ROOT.glob("services/*/requirements.txt"))


def requirement_names(path: Path) -> set[str]:
    names: set[str] = set()
    for line in lines(path):
        if line.startswith("-r "):
            names |= requirement_names(path.parent / line[3:])
        elif NAME.match(line):
            names.add(_normal(line))
    return names


def installed_with(names: set[str]) -> set[str]:
    """`names` and every distribution they depend on (what pip installs for them)."""
    found, pending = set(), list(names)
    while pending:
        name = pending.pop()
        if name in found:
            continue
        found.add(name)
        try:
            needs = requires(name) or []
        except PackageNotFoundError:
            continue
        pending.extend(
            _normal(re.split(r"[ ;<>=!~\[(]", need, maxsplit=1)[0])
            for need in needs
            if "extra ==" not in need
        )
    return found


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def third_party_imports(service: Path) -> dict[str, str]:
    """Every module outside the standard library that the service's code imports, directly
    or through the shared package's modules it imports: {module: the file importing it}."""
    own = {package.name for package in service.iterdir() if (package / "__init__.py").is_file()}
    pending = [path for path in service.rglob("*.py") if "tests" not in path.relative_to(service).parts]
    seen: set[Path] = set()
    found: dict[str, str] = {}
    while pending:
        path = pending.pop()
        if path in seen:
            continue
        seen.add(path)
        for module in _imports(path):
            top = module.partition(".")[0]
            if top == "evcharging":
                pending.extend(_shared_module(module))
            elif top not in own and top not in sys.stdlib_module_names and top != "__future__":
                found.setdefault(top, str(path.relative_to(ROOT)))
    return found


def _imports(path: Path) -> set[str]:
    modules: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            modules.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module)
            modules.update(f"{node.module}.{alias.name}" for alias in node.names)
    return modules


def _shared_module(module: str) -> list[Path]:
    base = ROOT / "lib" / Path(*module.split("."))
    return [path for path in (base.with_suffix(".py"), base / "__init__.py") if path.is_file()]


@pytest.mark.parametrize("service", SERVICES, ids=lambda path: path.name)
def test_a_service_requires_every_package_its_code_imports(service: Path) -> None:
    """The image installs only the service's requirements: a module missing from them
    passes every test run on the development venv and fails the container at start."""
    distributions = packages_distributions()
    required = installed_with(requirement_names(service / "requirements.txt"))
    missing = {
        module: where
        for module, where in third_party_imports(service).items()
        if not {_normal(name) for name in distributions.get(module, [module])} & required
    }
    assert missing == {}, f"{service.name}/requirements.txt lacks the packages of these imports"
