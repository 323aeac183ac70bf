"""Assembles and runs the Kafka processor: codec, metrics endpoint, loop, summary."""

from __future__ import annotations

from processor.config import Settings
from processor.domain.settings import PolicySettings
from processor.kafka.registry import wire_codec
from processor.runtime.loop import KafkaProcessor, RunStats
from processor.runtime.metrics import Health, Metrics, serve


def run_processor(settings: Settings, policy: PolicySettings,
                  until_idle_s: float | None = None) -> RunStats:
    metrics = Metrics()
    health = Health()
    server = serve(metrics, health, settings.metrics_port) if settings.metrics_port else None
    try:
        processor = KafkaProcessor(settings, policy, wire_codec(settings, auto_register=True),
                                   metrics, health)
        return processor.run(until_idle_s)
    finally:
        if server is not None:
            server.shutdown()
            server.server_close()
