"""librdkafka configuration from the settings, and the client factories.

Secrets leave their ``SecretStr`` only in ``client_config``; log ``redacted(config)``.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from processor.config import Settings
from processor.kafka.partitioner import PRODUCER_PARTITIONER

ConfigValue = str | int | float | bool
# librdkafka's error_cb: called with a KafkaError from poll/consume/flush.
ErrorCallback = Callable[[Any], None]

_SECRET_MARKERS = ("password", "secret", "sasl.jaas")
REDACTED = "***"


def client_config(settings: Settings) -> dict[str, str]:
    """``bootstrap.servers``, the security settings that are set, then ``kafka_extra``
    (which wins: it is the escape hatch for any other librdkafka property)."""
    config = {"bootstrap.servers": settings.bootstrap_servers}
    plain = {
        "security.protocol": settings.security_protocol,
        "sasl.mechanism": settings.sasl_mechanism,
        "sasl.username": settings.sasl_username,
        "ssl.ca.location": settings.ssl_ca_location,
        "ssl.certificate.location": settings.ssl_certificate_location,
        "ssl.key.location": settings.ssl_key_location,
    }
    config.update({k: v for k, v in plain.items() if v is not None})
    if settings.sasl_password is not None:
        config["sasl.password"] = settings.sasl_password.get_secret_value()
    if settings.ssl_key_password is not None:
        config["ssl.key.password"] = settings.ssl_key_password.get_secret_value()
    config.update({k: v.get_secret_value() for k, v in settings.kafka_extra.items()})
    return config


def redacted(config: Mapping[str, object]) -> dict[str, object]:
    """A copy safe to log: every value whose key names a password, secret or JAAS
    config is replaced by ``***``."""
    return {k: (REDACTED if any(m in k.lower() for m in _SECRET_MARKERS) else v)
            for k, v in config.items()}


def _merged(settings: Settings, defaults: Mapping[str, ConfigValue],
            extra: Mapping[str, ConfigValue], error_cb: ErrorCallback | None = None
            ) -> dict[str, ConfigValue | ErrorCallback]:
    merged: dict[str, ConfigValue | ErrorCallback] = dict(defaults)
    merged.update(client_config(settings))
    merged.update(extra)
    if error_cb is not None:
        merged["error_cb"] = error_cb
    return merged


def admin(settings: Settings, error_cb: ErrorCallback | None = None, /,
          **extra: ConfigValue) -> AdminClient:
    """An AdminClient. ``extra`` keys are librdkafka names: pass them as
    ``**{"socket.timeout.ms": 10000}``. ``error_cb`` sees client-level errors
    (``processor.kafka.security.SecurityWatch``)."""
    config: Any = _merged(settings, {}, extra, error_cb)  # the stub omits callables
    return AdminClient(config)


def producer(settings: Settings, error_cb: ErrorCallback | None = None, /,
             **extra: ConfigValue) -> Producer:
    """A Producer with the settings' connection properties plus ``extra``, partitioning
    keyed records as Java's default partitioner does (nothing overrides it)."""
    config = _merged(settings, {}, extra, error_cb)
    config["partitioner"] = PRODUCER_PARTITIONER
    return Producer(config)


def consumer(settings: Settings, error_cb: ErrorCallback | None = None, /,
             **extra: ConfigValue) -> Consumer:
    """A Consumer; ``group.id`` defaults to ``application_id`` and offsets are not
    committed automatically unless ``extra`` says so."""
    defaults: dict[str, ConfigValue] = {"group.id": settings.application_id,
                                        "enable.auto.commit": False}
    return Consumer(_merged(settings, defaults, extra, error_cb))
