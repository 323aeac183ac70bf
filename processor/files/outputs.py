"""Output files written as records are made, so memory does not grow with the run."""

from __future__ import annotations

from pathlib import Path
from types import TracebackType
from typing import IO, Protocol

from processor.codec.avro_encode import ContainerWriter
from processor.codec.dead_letter import DeadLetter
from processor.codec.jsonl import encode_line
from processor.codec.kinds import OUTPUT_KINDS, FileFormat, RecordKind
from processor.codec.schemas import sync_marker
from processor.domain.model import Decision


class OutputSinkCloser(Protocol):
    """An output sink that must be closed (files or topics)."""

    def decisions(self, decisions: tuple[Decision, ...]) -> None: ...

    def dead_letter(self, letter: DeadLetter) -> None: ...

    def close(self) -> None: ...


# Avro outputs are deflated unless --codec says otherwise.
DEFAULT_CODEC = "deflate"


class _KindWriter:
    def __init__(self, path: Path, kind: RecordKind, fmt: FileFormat,
                 codec: str = DEFAULT_CODEC) -> None:
        self.count = 0
        self._fmt = fmt
        self._handle: IO[bytes] = path.open("wb")
        self._avro: ContainerWriter | None = None
        if fmt is FileFormat.AVRO:
            # The bytes of fastavro's Writer(codec=codec), encoded without fastavro.
            self._avro = ContainerWriter(self._handle, kind, codec, sync_marker(kind))

    def write(self, obj: object) -> None:
        self.count += 1
        if self._avro is not None:
            self._avro.write(obj)
        else:
            self._handle.write(encode_line(obj))

    def close(self) -> None:
        if self._avro is not None:
            self._avro.flush()
        self._handle.close()


class FileSink:
    """Writes assignments, commission-adjustments and dead-letters into a folder."""

    def __init__(self, folder: Path, fmt: FileFormat, codec: str = DEFAULT_CODEC) -> None:
        folder.mkdir(parents=True, exist_ok=True)
        self.folder = folder
        self.fmt = fmt
        self._writers = {
            kind: _KindWriter(folder / f"{kind.value}.{fmt.value}", kind, fmt, codec)
            for kind in OUTPUT_KINDS
        }
        # A previous run in the other format must not leave a stale twin behind.
        other = FileFormat.AVRO if fmt is FileFormat.JSONL else FileFormat.JSONL
        for kind in OUTPUT_KINDS:
            (folder / f"{kind.value}.{other.value}").unlink(missing_ok=True)

    def decisions(self, decisions: tuple[Decision, ...]) -> None:
        assignments = self._writers[RecordKind.ASSIGNMENT]
        adjustments = self._writers[RecordKind.ADJUSTMENT]
        for decision in decisions:
            assignments.write(decision.assignment)
            for adjustment in decision.adjustments:
                adjustments.write(adjustment)

    def dead_letter(self, letter: DeadLetter) -> None:
        self._writers[RecordKind.DEAD_LETTER].write(letter)

    def counts(self) -> dict[str, int]:
        return {kind.value: w.count for kind, w in self._writers.items()}

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()

    def __enter__(self) -> FileSink:
        return self

    def __exit__(self, kind: type[BaseException] | None, error: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()
