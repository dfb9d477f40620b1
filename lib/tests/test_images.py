"""Every service image comes from one Dockerfile, services/Dockerfile: the build argument
SERVICE names the service, whose requirements make the venv and whose stage of that name
finishes the image. Every compose file that builds a service builds it so, and every
service package under services/ goes into an image built that way. And every host port a
compose file publishes can be moved, so the test stacks and the bench run beside a user's."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from bench.stack import OWN_PORTS
from tests.support.stack import HOST_PORTS

ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = ROOT / "services" / "Dockerfile"
COMPOSE_FILES = sorted((ROOT / "infra").glob("*.yml"))
SHARED_STAGES = {"requirements", "build", "service"}


class ComposeLoader(yaml.SafeLoader):
    """YAML as Compose writes it: its own tags (`!override`, `!reset`) read as the value they tag."""


def _tagged(loader: ComposeLoader, _tag: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.MappingNode):
        return loader.construct_mapping(node, deep=True)
    if isinstance(node, yaml.SequenceNode):
        return loader.construct_sequence(node, deep=True)
    return loader.construct_scalar(node)  # type: ignore[arg-type]


ComposeLoader.add_multi_constructor("!", _tagged)


def compose_services(path: Path) -> dict[str, dict[str, Any]]:
    """A compose file's services, anchors and merge keys resolved (PyYAML)."""
    document = yaml.load(path.read_text(), ComposeLoader)  # noqa: S506 (a SafeLoader, plus Compose's tags)
    services: dict[str, dict[str, Any]] = document.get("services", {})
    return services


def builds(path: Path) -> dict[str, dict[str, Any]]:
    """The services of a compose file that build their image, with what they extend."""
    found = {}
    for name, service in compose_services(path).items():
        extends = service.get("extends")
        if isinstance(extends, dict) and "build" not in service:
            service = {**compose_services(path.parent / extends["file"])[extends["service"]], **service}
        if "build" in service:
            found[name] = service
    return found


def stages() -> dict[str, list[str]]:
    """Each stage of services/Dockerfile (the last, unnamed, as "") -> its instructions."""
    found: dict[str, list[str]] = {}
    instructions: list[str] = []
    for line in DOCKERFILE.read_text().replace("\\\n", " ").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        words = line.split()
        if words[0].upper() == "FROM":
            name = words[3] if len(words) == 4 and words[2].upper() == "AS" else ""
            instructions = found.setdefault(name, [])
        instructions.append(line)
    return found


def service_stages() -> dict[str, list[str]]:
    return {name: lines for name, lines in stages().items() if name and name not in SHARED_STAGES}


def built_services() -> set[str]:
    """Every SERVICE a compose file builds."""
    return {
        service["build"]["args"].get("SERVICE") for path in COMPOSE_FILES for service in builds(path).values()
    }


def test_the_only_dockerfile_under_services_is_the_template() -> None:
    found = [path for path in (ROOT / "services").rglob("*") if "dockerfile" in path.name.lower()]
    assert found == [DOCKERFILE]


@pytest.mark.parametrize("path", [path for path in COMPOSE_FILES if builds(path)], ids=lambda path: path.name)
def test_a_compose_file_builds_each_service_from_the_template(path: Path) -> None:
    for name, service in builds(path).items():
        build = service["build"]
        assert (path.parent / build["context"]).resolve() == ROOT, f"{name}: context"
        assert build["dockerfile"] == "services/Dockerfile", f"{name}: dockerfile"
        assert build["args"].get("PYTHON_IMAGE") == "${PYTHON_IMAGE:-python:3.11-slim}", f"{name}: base"
        target = build["args"].get("SERVICE")
        assert target in service_stages(), f"{name}: SERVICE={target} is no stage of services/Dockerfile"
        assert service["image"] == f"evcharging/{target}", f"{name}: image"


def test_every_service_package_goes_into_an_image_that_compose_builds() -> None:
    packages = {
        str(init.parent.relative_to(ROOT))
        for init in ROOT.glob("services/*/*/__init__.py")
        if init.parent.name != "tests"
    }
    copied = {
        line.split()[1]
        for name, lines in service_stages().items()
        if name in built_services()
        for line in lines
        if line.startswith("COPY services/")
    }
    assert packages - copied == set()


@pytest.mark.parametrize("name", sorted(service_stages()))
def test_a_service_stage_is_built_copies_its_package_and_says_how_it_runs(name: str) -> None:
    lines = service_stages()[name]
    assert lines[0] == f"FROM service AS {name}"
    assert name in built_services(), f"no compose file builds {name}"
    package = name.replace("-", "_")
    assert f"COPY services/{name}/{package} {package}" in lines
    assert any(line.startswith("HEALTHCHECK ") for line in lines)
    assert any(line.startswith("CMD ") for line in lines)


def test_the_image_is_the_stage_service_names_run_by_an_unprivileged_user() -> None:
    assert stages()[""] == ["FROM ${SERVICE}", "USER app"]
    assert "RUN useradd --system --uid 10001 --create-home app" in stages()["service"]


def published_port_variables(path: Path) -> set[str]:
    """The variables that set the host ports a compose file publishes (the tools profile apart)."""
    found: set[str] = set()
    for service in compose_services(path).values():
        if "tools" not in service.get("profiles", []):
            for port in service.get("ports", []):
                found.update(re.findall(r"\$\{(\w+):-\d+\}", str(port)))
    return found


def test_every_published_port_is_moved_by_the_test_stacks_and_the_bench() -> None:
    """Else a test stack, the bench and a user's own stack collide on one host port."""
    every_file = set().union(*(published_port_variables(path) for path in COMPOSE_FILES))
    assert every_file - set(HOST_PORTS) == set()
    assert published_port_variables(ROOT / "infra" / "compose.yml") - set(OWN_PORTS) == set()
