"""The probe process's reading of the page: only the probes' tiles."""

from __future__ import annotations

from bench.probes import states_of


def test_the_page_parser_keeps_only_the_probes_tiles() -> None:
    body = b'[{"cp_id": "PabcC00001", "state": "averiado"}, {"cp_id": "BabcC00001", "state": "activado"}]'
    assert states_of(body, "Pabc") == {"PabcC00001": "averiado"}
