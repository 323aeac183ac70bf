"""How replay cost grows: CPU seconds against input events, peak RSS against members.

    .venv/bin/python -m bench.plot bench/results/replay-*.json --out bench/results/scaling.svg

Reads the JSON files `bench.replay` writes and draws one point per (size, format, member
bound) from each run's best figures, on log-log axes, as a small SVG (no plotting library:
two scatter panels do not need one).
"""

from __future__ import annotations

import argparse
import json
import math
from pathlib import Path

Point = tuple[float, float, str]  # x, y, series

_W, _H, _PAD = 360, 260, 52
_COLOURS = ("#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e")


def points(files: list[Path]) -> tuple[list[Point], list[Point]]:
    cpu: list[Point] = []
    rss: list[Point] = []
    for path in files:
        for result in json.loads(path.read_text()).get("results", []):
            best = result["best"]
            bound = result.get("members_in_memory")
            series = result["format"] + (f", {bound:,} decoded" if bound else "")
            cpu.append((result["events"], best["cpu_seconds"], series))
            rss.append((result["members"], best["max_rss_mib"], series))
    return cpu, rss


def _decades(low: float, high: float) -> list[float]:
    return [10.0 ** e for e in range(math.floor(math.log10(low)),
                                       math.ceil(math.log10(high)) + 1)]


def panel(data: list[Point], title: str, x_label: str, y_label: str, left: int,
          series: list[str], limit: tuple[float, str] | None = None) -> list[str]:
    xs = _decades(min(p[0] for p in data), max(p[0] for p in data))
    ys = _decades(min(p[1] for p in data), max([p[1] for p in data]
                                                + ([limit[0]] if limit else [])))

    def sx(x: float) -> float:
        span = math.log10(xs[-1]) - math.log10(xs[0]) or 1
        return left + _PAD + (math.log10(x) - math.log10(xs[0])) / span * (_W - 2 * _PAD)

    def sy(y: float) -> float:
        span = math.log10(ys[-1]) - math.log10(ys[0]) or 1
        return _H - _PAD - (math.log10(y) - math.log10(ys[0])) / span * (_H - 2 * _PAD)

    out = [f'<text x="{left + _W / 2}" y="18" text-anchor="middle" font-weight="bold">'
           f'{title}</text>',
           f'<rect x="{left + _PAD}" y="{_PAD}" width="{_W - 2 * _PAD}" '
           f'height="{_H - 2 * _PAD}" fill="none" stroke="#999"/>']
    for x in xs:
        out.append(f'<text x="{sx(x):.1f}" y="{_H - _PAD + 16}" text-anchor="middle">'
                   f'{x:,.0f}</text>')
    for y in ys:
        out.append(f'<text x="{left + _PAD - 4}" y="{sy(y) + 4:.1f}" text-anchor="end">'
                   f'{y:,.0f}</text>')
    out.append(f'<text x="{left + _W / 2}" y="{_H - 12}" text-anchor="middle">{x_label}</text>')
    out.append(f'<text x="{left + 12}" y="{_H / 2}" text-anchor="middle" '
               f'transform="rotate(-90 {left + 12} {_H / 2})">{y_label}</text>')
    if limit is not None:
        out.append(f'<line x1="{left + _PAD}" x2="{left + _W - _PAD}" y1="{sy(limit[0]):.1f}" '
                   f'y2="{sy(limit[0]):.1f}" stroke="#555" stroke-dasharray="4 3"/>')
        out.append(f'<text x="{left + _W - _PAD - 2}" y="{sy(limit[0]) - 4:.1f}" '
                   f'text-anchor="end" fill="#555">{limit[1]}</text>')
    for i, name in enumerate(series):
        line = sorted((x, y) for x, y, n in data if n == name)
        colour = _COLOURS[i % len(_COLOURS)]
        if len(line) > 1:
            path = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in line)
            out.append(f'<polyline points="{path}" fill="none" stroke="{colour}"/>')
        out += [f'<circle cx="{sx(x):.1f}" cy="{sy(y):.1f}" r="4" fill="{colour}"/>'
                for x, y in line]
    return out


def svg(cpu: list[Point], rss: list[Point]) -> str:
    series = sorted({p[2] for p in cpu})
    body = panel(cpu, "Replay CPU", "input events", "CPU seconds", 0, series)
    body += panel(rss, "Peak RSS", "members", "MiB", _W, series, (1536, "1.5 GiB target"))
    for i, name in enumerate(series):
        y = _H + 14 + 16 * i
        body.append(f'<circle cx="{_PAD + 6}" cy="{y - 4}" r="4" '
                    f'fill="{_COLOURS[i % len(_COLOURS)]}"/>')
        body.append(f'<text x="{_PAD + 16}" y="{y}">{name}</text>')
    height = _H + 20 + 16 * len(series)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{2 * _W}" height="{height}" '
            f'font-family="sans-serif" font-size="11">\n'
            f'<rect width="100%" height="100%" fill="white"/>\n' + "\n".join(body) + "\n</svg>\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("results", nargs="+", type=Path, help="bench.replay results files")
    parser.add_argument("--out", type=Path, default=Path("bench/results/scaling.svg"))
    args = parser.parse_args()
    cpu, rss = points(args.results)
    if not cpu:
        raise SystemExit("no replay results in those files")
    args.out.write_text(svg(cpu, rss))
    print(f"wrote {args.out} ({len(cpu)} points)")


if __name__ == "__main__":
    main()
