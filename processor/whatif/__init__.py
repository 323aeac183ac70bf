"""What-if replays: the inputs replayed with other policy settings or another schedule
file, diffed against the historical outputs (CSV files and a self-contained HTML report).

- `diff`: the pure comparison (frozen dataclasses, no I/O);
- `load`: the baseline from output files or topics, the scenario replayed in memory;
- `csv_out`, `svg`, `report`: members.csv, agents.csv, reasons.csv, summary.json and
  report.html;
- `run`: the command's steps and its terminal summary.
"""
