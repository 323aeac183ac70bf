"""librdkafka configuration from the settings, and the client factories.

Secrets leave their ``SecretStr`` only in ``client_config``; log ``redacted(config)``.
"""

from __future__ import annotations

from collections.abc import Mapping

from confluent_kafka import Consumer, Producer
from confluent_kafka.admin import AdminClient

from processor.config import Settings

ConfigValue = str | int | float | bool

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
            extra: Mapping[str, ConfigValue]) -> dict[str, ConfigValue]:
    merged: dict[str, ConfigValue] = dict(defaults)
    merged.update(client_config(settings))
    merged.update(extra)
    return merged


def admin(settings: Settings, **extra: ConfigValue) -> AdminClient:
    """An AdminClient. ``extra`` keys are librdkafka names: pass them as
    ``**{"socket.timeout.ms": 10000}``."""
    return AdminClient(_merged(settings, {}, extra))


def producer(settings: Settings, **extra: ConfigValue) -> Producer:
    """A Producer with the settings' connection properties plus ``extra``."""
    return Producer(_merged(settings, {}, extra))


def consumer(settings: Settings, **extra: ConfigValue) -> Consumer:
    """A Consumer; ``group.id`` defaults to ``application_id`` and offsets are not
    committed automatically unless ``extra`` says so."""
    defaults: dict[str, ConfigValue] = {"group.id": settings.application_id,
                                        "enable.auto.commit": False}
    return Consumer(_merged(settings, defaults, extra))
