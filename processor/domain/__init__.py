"""The functional core: frozen domain types and pure policy functions.

Nothing in this package imports Kafka, Avro, logging or a clock.
"""
