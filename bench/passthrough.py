"""The passthrough baseline: copy the input topics to one output topic, exactly once.

A confluent-kafka consumer group (read_committed, cooperative-sticky) over enrollments and
plan-changes and a transactional producer with the processor's settings (idempotence,
linger.ms 5): each batch of at most --batch-size records is produced to --output, its
offsets sent to the transaction, and committed, as `aor-processor run` does, but with no
decoding, no state, no agent table and no encoding. Exits after --until-idle seconds with
nothing to copy. Run by bench.kafka_e2e.
"""

from __future__ import annotations

import argparse
import json
import time
import uuid
from typing import Any

from confluent_kafka import Consumer, KafkaError, Producer, TopicPartition


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--bootstrap-servers", required=True)
    parser.add_argument("--group", required=True)
    parser.add_argument("--topics", nargs="+", required=True)
    parser.add_argument("--output", required=True)
    parser.add_argument("--batch-size", type=int, default=500)
    parser.add_argument("--until-idle", type=float, default=3.0)
    args = parser.parse_args()
    consumer = Consumer({
        "bootstrap.servers": args.bootstrap_servers, "group.id": args.group,
        "enable.auto.commit": False, "isolation.level": "read_committed",
        "auto.offset.reset": "earliest", "partition.assignment.strategy": "cooperative-sticky",
    })
    producer = Producer({
        "bootstrap.servers": args.bootstrap_servers,
        "transactional.id": f"{args.group}-{uuid.uuid4().hex[:8]}",
        "enable.idempotence": True, "linger.ms": 5, "transaction.timeout.ms": 60000,
    })
    producer.init_transactions(60)
    consumer.subscribe(args.topics)
    copied = 0
    transactions = 0
    last = time.monotonic()
    while time.monotonic() - last < args.until_idle:
        messages: list[Any] = consumer.consume(args.batch_size, 0.05)
        good = [m for m in messages if m.error() is None]
        for m in messages:
            error = m.error()
            if error is not None and error.code() != KafkaError._PARTITION_EOF:
                raise RuntimeError(str(error))
        if not good:
            continue
        producer.begin_transaction()
        offsets: dict[tuple[str, int], int] = {}
        for m in good:
            producer.produce(args.output, value=m.value(), key=m.key(), headers=m.headers())
            offsets[(m.topic(), m.partition())] = m.offset() + 1
        producer.send_offsets_to_transaction(
            [TopicPartition(t, p, o) for (t, p), o in offsets.items()],
            consumer.consumer_group_metadata(), 30)
        producer.commit_transaction(60)
        copied += len(good)
        transactions += 1
        last = time.monotonic()
    consumer.close()
    print(json.dumps({"copied": copied, "transactions": transactions}))


if __name__ == "__main__":
    main()
