"""`what-if` end to end on the bundled sample, and its report in headless Chromium.

Chromium is installed by scripts/setup.sh (Debian's `chromium` package, when missing and
run as root); without it the browser test is skipped, saying so.
"""

from __future__ import annotations

import csv
import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from html.parser import HTMLParser
from pathlib import Path

import pytest

SAMPLE = Path(__file__).resolve().parents[2] / "samples" / "sample"
CHROMIUM = next((p for name in ("chromium", "chromium-browser")
                 if (p := shutil.which(name)) is not None), None)
needs_chromium = pytest.mark.skipif(
    CHROMIUM is None,
    reason="chromium is not installed: run scripts/setup.sh as root on Debian "
           "(apt-get install chromium) to open the report in a headless browser")
# Okabe-Ito colours of the charts: the agents' loss bars and the ASSIGNED segments.
LOSS = (0xD5, 0x5E, 0x00)
ASSIGNED = (0x00, 0x72, 0xB2)


def cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "COLUMNS": "120"}
    return subprocess.run([sys.executable, "-m", "processor", *map(str, args)],
                          capture_output=True, text=True, check=False, env=env)


@pytest.fixture(scope="module")
def report(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The baseline is a replay of the sample under the default settings; the scenario
    protects only the Dedicated Plan Change line."""
    baseline = tmp_path_factory.mktemp("baseline")
    done = cli("replay", "--input", SAMPLE, "--output", baseline, "--quiet")
    assert done.returncode == 0, done.stderr
    output = tmp_path_factory.mktemp("what-if")
    done = cli("what-if", "--input", SAMPLE, "--baseline", baseline, "--output", output,
               "--protected-channels", "DEDICATED_PLAN_CHANGE_LINE")
    assert done.returncode == 0, done.stderr
    return output, done.stdout


def rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as stream:
        return list(csv.DictReader(stream))


def test_what_if_writes_the_diff_files_and_a_summary(report: tuple[Path, str]) -> None:
    output, stdout = report
    members, agents, reasons = (rows(output / f"{n}.csv")
                                for n in ("members", "agents", "reasons"))
    assert members and agents and reasons
    summary = json.loads((output / "summary.json").read_text())
    assert summary["members_changed"] == len(members) > 0
    assert summary["aor_changes"] > 0
    assert summary["baseline_policy_versions"] != summary["scenario_policy_versions"]
    # Fewer protected channels: internal plan changes are released, never protected more.
    released = next(r for r in reasons if r["reason"] == "INTERNAL_CHANNEL_NOT_PROTECTED")
    assert int(released["scenario_count"]) > 0 == int(released["baseline_count"])
    protected = next(r for r in reasons if r["reason"] == "INTERNAL_PLAN_CHANGE_PROTECTED")
    assert int(protected["delta"]) < 0
    # The per-agent deltas add up to the headline delta; members' deltas do too.
    total = sum(float(a["delta"]) for a in agents)
    assert abs(total - float(summary["net_delta"])) < 0.005
    assert abs(sum(float(m["delta"]) for m in members) - total) < 0.005
    assert all(m["changed"] for m in members)
    assert "members changed" in stdout
    assert "report.html" in stdout


def test_same_settings_as_the_baseline_change_nothing(tmp_path: Path) -> None:
    baseline, output = tmp_path / "baseline", tmp_path / "what-if"
    assert cli("replay", "--input", SAMPLE, "--output", baseline, "--quiet").returncode == 0
    done = cli("what-if", "--input", SAMPLE, "--baseline", baseline, "--output", output)
    assert done.returncode == 0, done.stderr
    assert rows(output / "members.csv") == []
    assert json.loads((output / "summary.json").read_text())["net_delta"] == "0.00"


def test_a_missing_baseline_is_refused(tmp_path: Path) -> None:
    done = cli("what-if", "--input", SAMPLE, "--baseline", tmp_path / "nothing",
               "--output", tmp_path / "out")
    assert done.returncode == 2
    assert "baseline folder" in done.stderr


class _Dom(HTMLParser):
    """Counts, per chart <svg>, its bar <rect>s and <title>s; collects the visible text."""

    def __init__(self) -> None:
        super().__init__()
        self.charts: dict[str, dict[str, int]] = {}
        self.current: str | None = None
        self.text: list[str] = []
        self.skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        values = dict(attrs)
        if tag in ("style", "title") and self.current is None:
            self.skip += 1
        if tag == "svg":
            self.current = values.get("id") or f"svg{len(self.charts)}"
            self.charts[self.current] = {"bars": 0, "titles": 0, "texts": 0}
        if self.current is None:
            return
        chart = self.charts[self.current]
        if tag == "rect" and "bar" in (values.get("class") or "").split():
            chart["bars"] += 1
        elif tag == "title":
            chart["titles"] += 1
        elif tag == "text":
            chart["texts"] += 1

    def handle_endtag(self, tag: str) -> None:
        if tag in ("style", "title") and self.current is None and self.skip:
            self.skip -= 1
        if tag == "svg":
            self.current = None

    def handle_data(self, data: str) -> None:
        if not self.skip:
            self.text.append(data)


def _chromium(*args: str | Path, profile: Path) -> subprocess.CompletedProcess[str]:
    assert CHROMIUM is not None
    command = [CHROMIUM, "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-quic",
               "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}",
               "--enable-logging=stderr", "--v=0", *map(str, args)]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, check=False)


def _console_lines(stderr: str) -> list[str]:
    """The page's console messages (script errors, blocked loads); Chromium's own
    warnings about D-Bus and GPUs are not about the page."""
    return [line for line in stderr.splitlines() if ":CONSOLE" in line]


@needs_chromium
def test_report_opens_in_headless_chromium_and_shows_its_charts(
        report: tuple[Path, str], tmp_path: Path) -> None:
    page = (report[0] / "report.html").resolve().as_uri()
    dom = _chromium("--dump-dom", page, profile=tmp_path / "profile-dom")
    assert dom.returncode == 0, dom.stderr[-2000:]
    assert _console_lines(dom.stderr) == []
    parsed = _Dom()
    parsed.feed(dom.stdout)
    assert set(parsed.charts) == {"chart-outcomes", "chart-agents"}, parsed.charts
    for name, chart in parsed.charts.items():
        assert chart["bars"] > 0, name
        # The chart's own <title> plus one tooltip per bar; axis titles and labels.
        assert chart["titles"] >= chart["bars"] + 1, name
        assert chart["texts"] > 3, name
    assert "Decisions by outcome over time" in dom.stdout
    assert "Commission deltas per agent" in dom.stdout
    text = " ".join(parsed.text)
    assert "Members changed" in text
    assert "error" not in text.lower()

    png = tmp_path / "report.png"
    shot = _chromium(f"--screenshot={png}", "--window-size=1200,2000", page,
                     profile=tmp_path / "profile-shot")
    assert shot.returncode == 0, shot.stderr[-2000:]
    assert _console_lines(shot.stderr) == []
    assert png.is_file() and png.stat().st_size > 30_000
    width, height, pixels = read_png(png)
    assert (width, height) == (1200, 2000)
    colours = set(pixels)
    assert len(colours) > 50, "the screenshot is (nearly) blank"
    assert LOSS in colours and ASSIGNED in colours, "the chart bars are not drawn"


def read_png(path: Path) -> tuple[int, int, list[tuple[int, int, int]]]:
    """Width, height and RGB pixels of an 8-bit, non-interlaced RGB or RGBA PNG (what
    Chromium writes), with the stdlib only."""
    data = path.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    pos, idat = 8, b""
    width = height = depth = colour_type = interlace = 0
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        chunk, body = data[pos + 4:pos + 8], data[pos + 8:pos + 8 + length]
        if chunk == b"IHDR":
            width, height, depth, colour_type, _, _, interlace = struct.unpack(">IIBBBBB", body)
        elif chunk == b"IDAT":
            idat += body
        pos += 12 + length
    assert depth == 8 and colour_type in (2, 6) and interlace == 0, (depth, colour_type)
    channels = 3 if colour_type == 2 else 4
    stride = width * channels
    raw = zlib.decompress(idat)
    previous = bytearray(stride)
    pixels: list[tuple[int, int, int]] = []
    for row in range(height):
        start = row * (stride + 1)
        method, line = raw[start], bytearray(raw[start + 1:start + 1 + stride])
        for i in range(stride):
            left = line[i - channels] if i >= channels else 0
            up = previous[i]
            corner = previous[i - channels] if i >= channels else 0
            if method == 1:
                line[i] = (line[i] + left) & 0xFF
            elif method == 2:
                line[i] = (line[i] + up) & 0xFF
            elif method == 3:
                line[i] = (line[i] + (left + up) // 2) & 0xFF
            elif method == 4:
                estimate = left + up - corner
                pa, pb, pc = abs(estimate - left), abs(estimate - up), abs(estimate - corner)
                predictor = left if pa <= pb and pa <= pc else up if pb <= pc else corner
                line[i] = (line[i] + predictor) & 0xFF
        pixels.extend((line[i], line[i + 1], line[i + 2]) for i in range(0, stride, channels))
        previous = line
    return width, height, pixels
