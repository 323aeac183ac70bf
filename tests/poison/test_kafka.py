"""Poison on every input topic of a live run (fingerprint wire format, the session's
broker): hand-made records for every recipe plus a fixed sample drawn with a seeded
``random.Random`` from the same recipes as the file suite, produced between three
loaded stretches of a good history.

After ``run --until-idle``: every poison record is exactly one dead letter with its
topic, partition, offset, original key and value bytes and the expected error type;
there is no other dead letter; every good event is decided once; and the outputs equal
the file replay of the good history. (Wrong Confluent schema ids need the in-process
mock registry: ``test_ingest.py``.)
"""

from __future__ import annotations

import base64
import random
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from processor.codec.files import Decoded, read_records
from processor.codec.kinds import INPUT_KINDS, RecordKind
from processor.codec.wire import WireCodec
from processor.config import WireFormat
from processor.kafka.load import timestamp_ms
from tests.integration.harness import (
    Deployment,
    RawRecord,
    assert_same_outputs,
    generate,
    lines,
    original_decisions,
    produce_raw,
    replay,
    segments,
)
from tests.poison.corrupt import RandomChooser, avro_recipes
from tests.poison.wire import WirePoison, recipes, wire_poison

pytestmark = pytest.mark.kafka

SEED = 20260501
RANDOM_PER_TOPIC = 12  # at the second stretch boundary, on each input topic
SEGMENTS = 3
# Near the broker's default max.message.bytes (1,048,588): a dead letter cannot carry
# all of it (fit_dead_letter cuts the value and says where the original is).
OVERSIZED_VALUE_BYTES = 1_040_000


@pytest.fixture(scope="module")
def history(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return generate(tmp_path_factory.mktemp("history"), 160, seed=67)


@pytest.fixture(scope="module")
def replayed(history: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return replay(history, tmp_path_factory.mktemp("replayed"))


def good_records(history: Path, kind: RecordKind) -> list[Any]:
    return [item.record for item in read_records(history / f"{kind.value}.jsonl", kind,
                                                  datetime.now(UTC))
            if isinstance(item, Decoded)]


def poison_batches(history: Path) -> Iterator[list[WirePoison]]:
    """Batch 0: every wire recipe and every payload recipe once per topic (hand-made,
    fixed choices); then seeded random draws of the same recipes."""
    codec = WireCodec(WireFormat.FINGERPRINT)
    rng = random.Random(SEED)
    chooser = RandomChooser(rng)
    records = {kind: good_records(history, kind) for kind in INPUT_KINDS}
    first: list[WirePoison] = []
    for kind in INPUT_KINDS:
        for n, recipe in enumerate(sorted(set(recipes(kind, WireFormat.FINGERPRINT)))):
            if recipe != "payload":
                first.append(wire_poison(kind, records[kind][n], codec, chooser,
                                         recipe=recipe))
        for n, payload in enumerate(avro_recipes(kind)):
            record = records[kind][-1 - n]
            poison = wire_poison(kind, record, codec, _Fixed(chooser, payload), recipe="payload")
            first.append(poison)
    yield first
    while True:
        yield [wire_poison(kind, chooser.choice(records[kind]), codec, chooser)
               for kind in INPUT_KINDS for _ in range(RANDOM_PER_TOPIC)]


class _Fixed(RandomChooser):
    """A RandomChooser whose first choice among payload recipes is fixed."""

    def __init__(self, inner: RandomChooser, recipe: str) -> None:
        super().__init__(inner.rng)
        self.recipe = recipe
        self.used = False

    def choice(self, options: Any) -> Any:
        if not self.used and self.recipe in options:
            self.used = True
            return self.recipe
        return super().choice(options)


def produce(bootstrap: str, topics: dict[RecordKind, str], batch: list[WirePoison],
            at: datetime) -> list[tuple[int, int]]:
    """Produce each poison record byte for byte, stamped ``at``; (partition, offset) each."""
    records = [RawRecord(topics[p.kind], p.value, p.key,
                         None if p.headers is None else list(p.headers), timestamp_ms(at))
               for p in batch]
    return produce_raw(bootstrap, records, flush_s=60, **{"message.max.bytes": 2_000_000})


def _b64(raw: bytes | None) -> str | None:
    return None if raw is None else base64.b64encode(raw).decode("ascii")


def test_poison_on_every_input_topic_is_one_dead_letter_each_and_good_data_decides_as_replay(
        kafka_bootstrap: str, history: Path, replayed: Path, tmp_path: Path) -> None:
    app = Deployment(kafka_bootstrap)
    topics = {kind: app.topic(kind.value) for kind in INPUT_KINDS}
    folders, cuts = segments(history, tmp_path / "segments", SEGMENTS)
    batches = poison_batches(history)
    produced: list[tuple[WirePoison, tuple[int, int]]] = []
    oversized = WirePoison("oversized", RecordKind.ENROLLMENT, b"mbr-0000007",
                           random.Random(SEED).randbytes(OVERSIZED_VALUE_BYTES), None,
                           "UNKNOWN_SCHEMA")
    app.cli("topics", "create")
    for i, folder in enumerate(folders):
        app.cli("load", "--input", folder)
        if i < len(cuts):
            batch = next(batches)
            produced.extend(zip(batch, produce(kafka_bootstrap, topics, batch, cuts[i]),
                                strict=True))
    [big] = produce(kafka_bootstrap, topics, [oversized], cuts[-1])
    assert len(produced) > 80

    done = app.cli("run", "--until-idle", "3", timeout=300)
    dumped = app.dump(tmp_path / "dump")

    letters = lines(dumped / "dead-letters.jsonl")
    by_place: dict[tuple[str, int, int], list[dict[str, Any]]] = {}
    for letter in letters:
        by_place.setdefault((letter["source"], letter["partition"], letter["offset"]),
                            []).append(letter)
    problems: list[str] = []
    for poison, (partition, offset) in produced:
        topic = topics[poison.kind]
        where = f"{topic}[{partition}]@{offset} ({poison.recipe})"
        found = by_place.pop((topic, partition, offset), [])
        if len(found) != 1:
            problems.append(f"{where}: {len(found)} dead letters")
            continue
        letter = found[0]
        if letter["error_type"] != poison.error_type:
            problems.append(f"{where}: {letter['error_type']} != {poison.error_type}: "
                            f"{letter['error_message'][:200]}")
        if (letter["key"], letter["value"]) != (_b64(poison.key), _b64(poison.value)):
            problems.append(f"{where}: key or value is not the original")
        if not letter["error_message"] or not letter["failed_at"]:
            problems.append(f"{where}: no error_message or failed_at")
    found = by_place.pop((topics[RecordKind.ENROLLMENT], *big), [])
    if len(found) != 1:
        problems.append(f"oversized record at {big}: {len(found)} dead letters")
    else:
        cut = base64.b64decode(found[0]["value"])
        if not (found[0]["error_type"] == "UNKNOWN_SCHEMA" and 0 < len(cut) < len(
                oversized.value or b"") and (oversized.value or b"").startswith(cut)
                and "value cut to its first" in found[0]["error_message"]):
            problems.append(f"oversized record: {found[0]['error_type']}, {len(cut)} bytes, "
                            f"{found[0]['error_message'][:300]}")
    for place, extra in by_place.items():
        problems.append(f"unexpected dead letter {place}: {extra[0]['error_type']} "
                        f"{extra[0]['error_message'][:200]}")
    assert not problems, "\n".join(problems)
    assert not lines(replayed / "dead-letters.jsonl")

    good = sum(len(good_records(history, k)) for k in (RecordKind.ENROLLMENT,
                                                        RecordKind.PLAN_CHANGE))
    originals = original_decisions(dumped)
    assert len(originals) == good and set(originals.values()) == {1}
    assert_same_outputs(dumped, replayed)
    assert f"{len(produced) + 1} dead letters" in done.stderr.replace(",", "")
