"""The Kafka runtime: the exactly-once consumer group around the domain engine."""
