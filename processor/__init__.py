"""aor-processor: the Agent of Record retention policy as a stream processor."""

__version__ = "0.1.0"
