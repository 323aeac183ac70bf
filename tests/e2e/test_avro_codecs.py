"""Avro container files as other tools write them (issue 12, item 5): inputs in every codec
of the Avro specification, written by Apache Avro's own tools (`fromjson --codec`), decide
exactly as the same records uncompressed; outputs take `--codec`; a file whose header
cannot be read stops the command before it writes anything."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from fastavro import reader

from processor.devkafka.java import find_java
from tests.tools.avro_tools import avro_tools_jar

RECODEC = Path(__file__).resolve().parents[1] / "tools" / "Recodec.java"
CODECS = ("deflate", "snappy", "zstandard", "bzip2", "xz")
OUTPUTS = ("assignments", "commission-adjustments")


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AOR_")}
    return subprocess.run([sys.executable, "-m", "processor", *map(str, args)],
                          capture_output=True, text=True, check=False, env=env)


@pytest.fixture(scope="module")
def inputs(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """The same history as null-codec files (this project's) and recoded by avro-tools."""
    base = tmp_path_factory.mktemp("codecs")
    null = base / "null"
    done = cli("generate", "--members", "300", "--agents", "40", "--seed", "9", "--format",
               "avro", "--output", null)
    assert done.returncode == 0, done.stderr
    files = sorted(null.glob("*.avro"))
    java = find_java().executable
    recoded = subprocess.run(
        [str(java), "-cp", str(avro_tools_jar()), str(RECODEC), str(base), ",".join(CODECS),
         *map(str, files)], capture_output=True, text=True, check=False, timeout=300)
    assert recoded.returncode == 0, recoded.stderr[-3000:]
    return {"null": null, **{codec: base / codec for codec in CODECS}}


def test_every_codec_decides_as_uncompressed(inputs: dict[str, Path], tmp_path: Path) -> None:
    want = tmp_path / "null"
    assert cli("replay", "--input", inputs["null"], "--output", want, "--format", "jsonl",
               "--quiet").returncode == 0
    for codec in CODECS:
        for path in inputs[codec].glob("*.avro"):
            with path.open("rb") as stream:
                assert reader(stream).codec == codec, path  # what avro-tools wrote
        got = tmp_path / codec
        done = cli("replay", "--input", inputs[codec], "--output", got, "--format", "jsonl",
                   "--quiet")
        assert done.returncode == 0, done.stderr
        for name in OUTPUTS:
            produced = (got / f"{name}.jsonl").read_bytes()
            assert produced and produced == (want / f"{name}.jsonl").read_bytes(), (codec, name)
        assert (got / "dead-letters.jsonl").read_bytes() == b""


def test_avro_outputs_take_a_codec(inputs: dict[str, Path], tmp_path: Path) -> None:
    plain = tmp_path / "plain"
    assert cli("replay", "--input", inputs["null"], "--output", plain, "--codec", "null",
               "--quiet").returncode == 0
    for codec in CODECS:
        out = tmp_path / codec
        assert cli("replay", "--input", inputs["null"], "--output", out, "--codec", codec,
                   "--quiet").returncode == 0
        for name in OUTPUTS:
            with (out / f"{name}.avro").open("rb") as a, (plain / f"{name}.avro").open("rb") as b:
                compressed, uncompressed = reader(a), reader(b)
                assert compressed.codec == codec
                assert list(compressed) == list(uncompressed)


@pytest.mark.parametrize("damage", ["header", "record-type"])
def test_an_unreadable_file_stops_the_replay_before_any_output(
        inputs: dict[str, Path], tmp_path: Path, damage: str) -> None:
    folder = tmp_path / "in"
    shutil.copytree(inputs["snappy"], folder)
    enrollments = folder / "enrollments.avro"
    if damage == "header":
        data = bytearray(enrollments.read_bytes())
        data[4:40] = b"\xff" * 36  # the metadata map: schema and codec unreadable
        enrollments.write_bytes(bytes(data))
    else:
        shutil.copy(folder / "plan-changes.avro", enrollments)
    out = tmp_path / "out"
    done = cli("replay", "--input", folder, "--output", out)
    assert done.returncode == 2
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and str(enrollments) in lines[0], done.stderr
    assert not out.exists()  # nothing written, not even empty files
