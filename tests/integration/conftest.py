"""The broker fixtures (``kafka_broker``, ``kafka_bootstrap``, ``unique_topic``) live in
``tests/conftest.py``, so that every suite needing a broker (integration, poison, security)
shares the session's one broker."""
