"""The page's state colours, read from the stylesheet itself, keep every text readable:
WCAG AA asks for a contrast ratio of at least 4.5:1 for normal text. A change of colour
in app.css that breaks it fails here, with the pair named."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

CSS = Path(__file__).resolve().parents[1] / "central_web" / "static" / "app.css"
AA = 4.5
STATES = ("activado", "suministrando", "parado", "averiado", "desconectado")
Colour = tuple[float, float, float]


def rules(css: str) -> dict[str, dict[str, str]]:
    """Selector -> its declarations, for every plain rule (those inside @media too)."""
    css = re.sub(r"/\*.*?\*/", "", css, flags=re.S)
    found: dict[str, dict[str, str]] = {}
    for selectors, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        declarations = {}
        for declaration in body.split(";"):
            name, _, value = declaration.partition(":")
            if value.strip():
                declarations[name.strip()] = value.strip()
        for selector in selectors.split(","):
            found.setdefault(" ".join(selector.split()), {}).update(declarations)
    return found


RULES = rules(CSS.read_text())


def colour(value: str, scopes: list[dict[str, str]]) -> Colour:
    """An sRGB colour (0-255 channels) from a CSS value: #hex, white, var(), color-mix(in srgb)."""
    value = value.strip()
    if match := re.fullmatch(r"var\((--[\w-]+)\)", value):
        for i, scope in enumerate(scopes):
            if match[1] in scope:  # a variable resolves where it is declared, and outwards
                return colour(scope[match[1]], scopes[i:])
        raise KeyError(match[1])
    if value == "white":
        return (255.0, 255.0, 255.0)
    if re.fullmatch(r"#[0-9a-fA-F]{6}", value):
        return (float(int(value[1:3], 16)), float(int(value[3:5], 16)), float(int(value[5:7], 16)))
    if match := re.fullmatch(r"color-mix\(in srgb,\s*(.+?)\s+(\d+(?:\.\d+)?)%,\s*(.+)\)", value):
        share = float(match[2]) / 100
        first, second = colour(match[1], scopes), colour(match[3], scopes)
        return (
            first[0] * share + second[0] * (1 - share),
            first[1] * share + second[1] * (1 - share),
            first[2] * share + second[2] * (1 - share),
        )
    raise ValueError(f"cannot read the colour {value!r}")


def luminance(rgb: Colour) -> float:
    def linear(channel: float) -> float:
        c = channel / 255
        return c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4

    r, g, b = (linear(c) for c in rgb)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(text: Colour, background: Colour) -> float:
    lighter, darker = sorted((luminance(text), luminance(background)), reverse=True)
    return (lighter + 0.05) / (darker + 0.05)


def tile_scopes(state: str) -> list[dict[str, str]]:
    """The variables a tile in `state` sees: its state rule, the tile rule, then :root."""
    return [RULES[f'.tile[data-state="{state}"]'], RULES[".tile"], RULES[":root"]]


def pairs() -> list[tuple[str, str, str, list[dict[str, str]]]]:
    """(what, text colour, background colour, variables) for every text on a state colour."""
    found = []
    for state in STATES:
        scopes = tile_scopes(state)
        found += [
            (f"{state} badge", "var(--on-c)", RULES[".badge"]["background"], scopes),
            (f"{state} tile id", "var(--ink)", "var(--tint)", scopes),
            (f"{state} location", "var(--ink-2)", "var(--tint)", scopes),
            (f"{state} time in state", "var(--muted)", "var(--tint)", scopes),
        ]
    supplying = tile_scopes("suministrando")
    live = RULES[".tile-live"]["background"]
    found += [
        ("live figures", RULES[".num"]["color"], live, supplying),
        ("live units and driver", "var(--muted)", live, supplying),
        ("charging time", RULES[".live-time strong"]["color"], live, supplying),
        ("simulated-time note", RULES[".time-note"]["color"], live, supplying),
        (
            "Out of Order legend",
            RULES[".tile-legend"]["color"],
            RULES[".tile-legend"]["background"],
            [RULES[":root"]],
        ),
        ("disconnected tile id", "var(--muted)", "var(--tint)", tile_scopes("desconectado")),
        ("supplying tag", RULES[".tag-supplying"]["color"], RULES[".tag-supplying"]["background"], []),
    ]
    return found


PAIRS = pairs()


@pytest.mark.parametrize(("what", "text", "background", "scopes"), PAIRS, ids=[pair[0] for pair in PAIRS])
def test_text_on_each_state_colour_meets_wcag_aa(
    what: str, text: str, background: str, scopes: list[dict[str, str]]
) -> None:
    ratio = contrast(colour(text, scopes), colour(background, scopes))
    assert ratio >= AA, f"{what}: contrast {ratio:.2f}:1 is below {AA}:1"


def test_the_five_states_have_five_colours_and_supplying_is_cyan() -> None:
    colours = {state: colour(f"var(--{state})", [RULES[":root"]]) for state in STATES}
    assert len(set(colours.values())) == 5
    red, green, blue = colours["suministrando"]
    assert blue > red, f"not a cyan: {colours['suministrando']}"
    assert green > red, f"not a cyan: {colours['suministrando']}"
    assert abs(green - blue) < 64, f"not a cyan: {colours['suministrando']}"


def test_the_contrast_formula() -> None:
    assert contrast((0, 0, 0), (255, 255, 255)) == pytest.approx(21)
    assert contrast((118, 118, 118), (255, 255, 255)) == pytest.approx(4.54, abs=0.01)
