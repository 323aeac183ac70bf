"""Rewrite the golden files from contract_samples.py.

Run this only on purpose (a deliberate schema or format change), then review
the diff: a changed golden file is a changed wire contract.

    .venv/bin/python -m tests.contract.regenerate_golden   # from the repository root
"""

from __future__ import annotations

import textwrap

from processor.codec.avro_binary import encode
from processor.codec.jsonl import encode_line
from processor.codec.kinds import RecordKind
from processor.codec.schemas import fingerprint, load_schema
from tests.contract.contract_samples import GOLDEN_DIR, VARIANTS, golden_name


def avro_hex(payload: bytes) -> str:
    """Hex, 64 digits a line, so a diff shows where the bytes changed."""
    return "\n".join(textwrap.wrap(payload.hex(), 64)) + "\n"


def fingerprints_text() -> str:
    return "".join(f"{k.schema_name} {fingerprint(load_schema(k)).hex()}\n" for k in RecordKind)


def expected_files() -> dict[str, bytes]:
    """Golden file name -> content."""
    files: dict[str, bytes] = {"fingerprints.txt": fingerprints_text().encode()}
    for kind in RecordKind:
        lines = b""
        for variant, samples in VARIANTS.items():
            name = golden_name(kind, variant)
            files[f"{name}.avro.hex"] = avro_hex(encode(samples[kind])).encode()
            lines += encode_line(samples[kind])
        files[f"{kind.record_name}.jsonl"] = lines
    return files


def main() -> None:
    GOLDEN_DIR.mkdir(exist_ok=True)
    for name, content in expected_files().items():
        (GOLDEN_DIR / name).write_bytes(content)
        print(f"wrote {GOLDEN_DIR / name}")


if __name__ == "__main__":
    main()
