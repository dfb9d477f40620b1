"""A minimal Faust app for the platform tests: it reads SOURCE_TOPIC and echoes
each record's key and value to SINK_TOPIC, producing with Faust (aiokafka)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterable

import faust

app = faust.App(
    os.environ["FAUST_APP_ID"],
    broker=f"kafka://{os.environ['KAFKA_BOOTSTRAP']}",
    store="memory://",
    topic_partitions=6,
    web_enabled=False,
    producer_acks=-1,
)
source = app.topic(
    os.environ["SOURCE_TOPIC"], key_type=bytes, value_type=bytes, value_serializer="raw", key_serializer="raw"
)
sink = app.topic(
    os.environ["SINK_TOPIC"], key_type=bytes, value_type=bytes, value_serializer="raw", key_serializer="raw"
)


@app.agent(source)
async def echo(stream: faust.StreamT[bytes]) -> AsyncIterable[bytes]:
    async for key, value in stream.items():
        await sink.send(key=key, value=value)
        yield value
