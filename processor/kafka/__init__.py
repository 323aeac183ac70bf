"""The Kafka edge outside the processing loop: clients, topics, Schema Registry, and the
``topics create`` / ``load`` / ``dump`` tools (imperative shell; no I/O at import time).
"""
