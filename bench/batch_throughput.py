"""Records/s of `advertisex batch` beside a plain Python implementation of the same contract
and a pass-through (issue 14, part 3).

For each size of --records, a simulated day of about that many records (every anomaly knob
on) is written once with `advertisex simulate --to files` into --work and reused; then, in
one run, each row runs as a subprocess, end to end (start-up included):

- pass-through: every input file read and every record decoded (the contract's decoders),
  nothing else: the limit of a single Python process;
- plain Python: bench/plain_batch.py, single-threaded, all nine outputs;
- advertisex batch: the CLI, which stages the input, starts a local Flink mini cluster (a
  JVM) and writes the nine outputs.

Each row: wall seconds, records/s, the ratio to plain Python and the peak RSS of the
process tree (the sum over the process and its descendants, sampled from /proc every
0.2 s).

    python bench/batch_throughput.py [--records 1000000 10000000] [--work DIR]
        [--json FILE] [--plot FILE.png]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DAY_S = 86_400
# Sizing a simulated day (measured with --all-anomalies, seed 42, 2026-12-01): the one bot
# adds about 430,000 clicks a day whatever the rate; the rest is about 115,000 records per
# unit of --bid-rate (1,466,001 records at 9 bids/s).
BOT_RECORDS_PER_DAY = 430_000
RECORDS_PER_BID_RATE = 115_000
START = "2026-12-01T00:00:00Z"
ROWS = ("pass-through", "plain Python", "advertisex batch")
console = Console(stderr=True)


def bid_rate_for(records: int, duration_s: float = DAY_S) -> float:
    """The --bid-rate that gives about `records` records in duration_s simulated seconds."""
    per_day = records * DAY_S / duration_s
    return round(max(0.5, (per_day - BOT_RECORDS_PER_DAY) / RECORDS_PER_BID_RATE), 2)


def python() -> str:
    return sys.executable


def advertisex() -> str:
    return str(Path(sys.executable).with_name("advertisex"))


def environment() -> dict[str, str]:
    """This checkout's packages first (a worktree beside the editable install)."""
    path = os.environ.get("PYTHONPATH", "")
    return {**os.environ, "PYTHONPATH": f"{ROOT}{os.pathsep}{path}" if path else str(ROOT)}


def simulated_day(work: Path, records: int, seed: int, duration_s: float = DAY_S) -> Path:
    """The input folder of about `records` records, simulated once and kept in work."""
    span = "day" if duration_s == DAY_S else f"{duration_s:g}s"
    folder = work / f"{span}-{records}-seed{seed}"
    if folder.is_dir():
        console.print(f"reusing {folder}")
        return folder
    partial = folder.with_suffix(".partial")
    shutil.rmtree(partial, ignore_errors=True)
    command = [
        advertisex(),
        "simulate",
        "--to",
        "files",
        "--out",
        str(partial),
        "--duration",
        f"{duration_s:g}",
        "--bid-rate",
        str(bid_rate_for(records, duration_s)),
        "--start",
        START,
        "--all-anomalies",
        "--seed",
        str(seed),
    ]
    console.print(f"simulating about {records:,} records: {' '.join(command[1:])}")
    subprocess.run(command, check=True, env=environment())
    partial.rename(folder)
    return folder


def tree_rss(pid: int) -> int:
    """Resident bytes of pid and all its descendants."""
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat") as f:
                stat = f.read()
        except OSError:
            continue
        fields = stat[stat.rfind(")") + 2 :].split()
        child = int(entry)
        children.setdefault(int(fields[1]), []).append(child)
        rss[child] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        total += rss.get(p, 0)
        todo += children.get(p, [])
    return total


def timed(command: list[str], log: Path, on_tick: Callable[[float], None]) -> dict:
    """Run command to its end; wall seconds and the process tree's peak RSS."""
    start = time.monotonic()
    with open(log, "w") as out:
        process = subprocess.Popen(command, stdout=out, stderr=subprocess.STDOUT, env=environment())
        peak = 0
        done = threading.Event()

        def sample() -> None:
            nonlocal peak
            while not done.is_set():
                peak = max(peak, tree_rss(process.pid))
                done.wait(0.2)

        sampler = threading.Thread(target=sample, daemon=True)
        sampler.start()
        while process.poll() is None:
            on_tick(time.monotonic() - start)
            time.sleep(1)
        done.set()
        sampler.join()
    wall = time.monotonic() - start
    if process.returncode:
        raise RuntimeError(f"{command[:3]} failed ({process.returncode}): see {log}")
    return {"wall_s": wall, "peak_rss_bytes": peak}


def count_records(folder: Path) -> dict[str, int]:
    """Records per source (the pass-through's own output, JSON)."""
    return json.loads(
        subprocess.run(
            [python(), str(Path(__file__)), "pass-through", str(folder)],
            check=True,
            capture_output=True,
            text=True,
            env=environment(),
        ).stdout
    )


def pass_through(folder: Path) -> None:
    """Read every input file and decode every record; print the counts per source."""
    sys.path.insert(0, str(HERE))
    from collections import Counter

    from advertisex.contract.errors import ContractError
    from advertisex.contract.event_time import DECODERS
    from flink_jobs.batch_input import located_messages

    counts: Counter[str] = Counter()
    for source, _, _, payload in located_messages(folder):
        try:
            DECODERS[source](payload)
        except ContractError:
            pass
        counts[source] += 1
    print(json.dumps(dict(counts)))


def commands(folder: Path, out: Path) -> dict[str, list[str]]:
    return {
        "pass-through": [python(), str(Path(__file__)), "pass-through", str(folder)],
        "plain Python": [python(), str(HERE / "plain_batch.py"), str(folder), str(out / "plain")],
        "advertisex batch": [advertisex(), "batch", str(folder), str(out / "batch")],
    }


def load_average() -> str:
    return " ".join(Path("/proc/loadavg").read_text().split()[:3])


def run(args: argparse.Namespace) -> dict:
    work = Path(args.work or tempfile.mkdtemp(prefix="advertisex-batch-bench-"))
    work.mkdir(parents=True, exist_ok=True)
    figures = {"load_before": load_average(), "sizes": []}
    for records in args.records:
        folder = simulated_day(work, records, args.seed, args.duration)
        counts = count_records(folder)
        total = sum(counts.values())
        size = {"target": records, "records": total, "by_source": counts, "rows": {}}
        out = work / f"out-{records}"
        for row in args.rows:  # in the order given
            command = commands(folder, out)[row]
            console.print(f"{records:,}: {row} (load average {load_average()})")
            with console.status(row) as status:
                figure = timed(
                    command,
                    work / f"{row.replace(' ', '-')}-{records}.log",
                    lambda s, row=row: status.update(f"{row}: {s:.0f} s"),
                )
            figure["records_per_s"] = total / figure["wall_s"]
            size["rows"][row] = figure
            console.print(f"  {figure['wall_s']:.1f} s, {figure['records_per_s']:,.0f} records/s")
        plain = size["rows"].get("plain Python")
        for figure in size["rows"].values():
            figure["vs_plain"] = figure["records_per_s"] / plain["records_per_s"] if plain else None
        figures["sizes"].append(size)
        if not args.keep_outputs:
            shutil.rmtree(out, ignore_errors=True)
    figures["load_after"] = load_average()
    return figures


def table(figures: dict) -> Table:
    t = Table(
        title=f"batch throughput (load average {figures['load_before']} before, "
        f"{figures['load_after']} after)"
    )
    for column in ("records", "row", "wall s", "records/s", "vs plain Python", "peak RSS MB"):
        t.add_column(column, justify="left" if column == "row" else "right")
    for size in figures["sizes"]:
        for row, f in size["rows"].items():
            t.add_row(
                f"{size['records']:,}",
                row,
                f"{f['wall_s']:.1f}",
                f"{f['records_per_s']:,.0f}",
                "-" if f["vs_plain"] is None else f"{f['vs_plain']:.2f}x",
                f"{f['peak_rss_bytes'] / 2**20:,.0f}",
            )
    return t


def plot(figures: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    sizes = figures["sizes"]
    fig, ax = plt.subplots(figsize=(8, 4.5))
    width = 0.8 / len(ROWS)
    for i, row in enumerate(ROWS):
        xs = [j + i * width for j, s in enumerate(sizes) if row in s["rows"]]
        ys = [s["rows"][row]["records_per_s"] for s in sizes if row in s["rows"]]
        bars = ax.bar(xs, ys, width, label=row)
        ax.bar_label(bars, labels=[f"{y:,.0f}" for y in ys], fontsize=8)
    ax.set_xticks([j + width * (len(ROWS) - 1) / 2 for j in range(len(sizes))])
    ax.set_xticklabels([f"{s['records']:,} records" for s in sizes])
    ax.set_ylabel("records/s (end to end)")
    ax.set_title(
        f"batch throughput, 2 CPUs (load {figures['load_before']} before, "
        f"{figures['load_after']} after)"
    )
    ax.legend()
    fig.tight_layout()
    fig.savefig(path, dpi=110)


def main(argv: list[str] | None = None) -> None:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["pass-through"]:
        pass_through(Path(argv[1]))
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--records", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--work", type=Path, help="where the simulated days are kept")
    parser.add_argument(
        "--rows", nargs="+", choices=ROWS, default=list(ROWS), help="which, in this order"
    )
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument(
        "--duration", type=float, default=DAY_S, help="simulated seconds (a smoke run: 600)"
    )
    parser.add_argument("--keep-outputs", action="store_true")
    parser.add_argument("--json", type=Path)
    parser.add_argument("--plot", type=Path)
    args = parser.parse_args(argv)
    figures = run(args)
    Console().print(table(figures))
    if args.json:
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    if args.plot:
        plot(figures, args.plot)


if __name__ == "__main__":
    main()
