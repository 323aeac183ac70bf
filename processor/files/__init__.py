"""File replay: the oracle the Kafka runtime must agree with."""
