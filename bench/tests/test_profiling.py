import pytest

from bench.profiling import by_package, hotspots

STACK = 'process 1:"python -m central_stream";main (central_stream/__main__.py:10)'
AIOKAFKA = "/usr/local/lib/python3.11/site-packages/aiokafka/producer/producer.py"
RAW = f"""\
{STACK};decode (evcharging/codec.py:44) 30
{STACK};send ({AIOKAFKA}:300) 50
{STACK};send ({AIOKAFKA}:310) 20
"""


def test_hotspots_add_up_each_function_own_samples_across_lines() -> None:
    spots = hotspots(RAW)
    assert [spot.function for spot in spots] == [
        "send (aiokafka/producer/producer.py)",
        "decode (evcharging/codec.py)",
    ]
    assert spots[0].share == pytest.approx(0.7)
    assert spots[1].share == pytest.approx(0.3)


def test_an_empty_profile_has_no_hotspots() -> None:
    assert hotspots("") == []


def test_hotspots_keep_only_the_top_ones() -> None:
    assert len(hotspots(RAW, top=1)) == 1


def test_by_package_tells_library_time_from_the_service_own() -> None:
    spots = {spot.function: spot.share for spot in by_package(RAW)}
    assert spots == {"aiokafka": pytest.approx(0.7), "evcharging": pytest.approx(0.3)}
