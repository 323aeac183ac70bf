"""The edge: Avro and JSON Lines payloads <-> frozen domain types, dead letters, files.

Pure translation and file I/O: no Kafka, no logging, no clock.
"""
