"""Write a generated history as an input folder (contract.md, "Files") plus a manifest."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path

from processor.codec.files import write_records
from processor.codec.jsonl import encode_line
from processor.codec.kinds import FileFormat, RecordKind
from processor.generate.history import GeneratedHistory, MalformedLine

MANIFEST = "manifest.json"


def _lines(records: Sequence[object], malformed: Sequence[MalformedLine]) -> Iterator[bytes]:
    bad: dict[int, list[bytes]] = {}
    for line in malformed:
        bad.setdefault(line.after_index, []).append(line.raw + b"\n")
    yield from bad.get(-1, ())
    for i, record in enumerate(records):
        yield encode_line(record)
        if i in bad:
            yield from bad[i]


def _write_jsonl(path: Path, records: Sequence[object],
                 malformed: Sequence[MalformedLine]) -> None:
    partial = path.with_name(path.name + ".partial")
    with partial.open("wb") as stream:
        stream.writelines(_lines(records, malformed))
    os.replace(partial, path)


def write_history(history: GeneratedHistory, folder: Path, fmt: str = "jsonl") -> dict[str, object]:
    """Write the three input files and `manifest.json` into `folder`; returns the manifest.

    JSON Lines files carry the malformed lines at their positions; Avro files hold good
    records only (a bad Avro record cannot be written with the schema).
    """
    file_format = FileFormat(fmt)
    folder.mkdir(parents=True, exist_ok=True)
    kinds: tuple[tuple[RecordKind, Sequence[object]], ...] = (
        (RecordKind.ENROLLMENT, history.enrollments),
        (RecordKind.PLAN_CHANGE, history.plan_changes),
        (RecordKind.AGENT_STATUS, history.snapshots),
    )
    with_malformed = file_format is FileFormat.JSONL
    files: dict[str, str] = {}
    counts: dict[str, int] = {}
    malformed: dict[str, dict[str, int]] = {}
    for kind, records in kinds:
        path = folder / f"{kind.value}.{file_format.value}"
        for other in FileFormat:  # a stale file of the other format would shadow this one
            if other is not file_format:
                (folder / f"{kind.value}.{other.value}").unlink(missing_ok=True)
        bad = [m for m in history.malformed if m.kind_stem == kind.value] if with_malformed else []
        if file_format is FileFormat.JSONL:
            _write_jsonl(path, records, bad)
        else:
            write_records(path, kind, records, file_format)
        files[kind.value] = path.name
        counts[kind.value] = len(records)
        malformed[kind.value] = dict(sorted(Counter(m.expected_error_type for m in bad).items()))
    by_type: Counter[str] = Counter()
    for per_kind in malformed.values():
        by_type.update(per_kind)
    manifest: dict[str, object] = {
        "format": file_format.value,
        "config": history.config.as_dict() if history.config is not None else None,
        "files": files,
        "counts": counts,
        "members": len({e.member_id for e in history.enrollments}),
        "agents": len({s.agent_id for s in history.snapshots}),
        "malformed": malformed,
        "malformed_by_error_type": dict(sorted(by_type.items())),
        "malformed_total": sum(by_type.values()),
    }
    if not with_malformed:
        manifest["malformed_note"] = (
            "Avro files hold good records only: malformed_rate is ignored for Avro")
    (folder / MANIFEST).write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return manifest
