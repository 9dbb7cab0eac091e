#!/usr/bin/env python
"""Summarise MNIST run folders (``eegsnn mnist --out DIR``) as a Markdown table.

Usage::

    python scripts/mnist_seeds_summary.py results/mnist-seeds/*/

For each run: schedule, seed, engine, final-model test accuracy (``metrics.json``), best
epoch's test accuracy (the published numbers' protocol: best over epochs, selected on the
test set), mean of the last five epochs, training time; then mean and standard deviation
per schedule.
"""

from __future__ import annotations

import json
import statistics
import sys
from pathlib import Path


def summarise(run: Path) -> dict:
    config = json.loads((run / "config.json").read_text())
    metrics = json.loads((run / "metrics.json").read_text())
    history = json.loads((run / "history.json").read_text())
    accuracy = [h.get("heldout_accuracy", h.get("test_accuracy")) for h in history]
    best = max(range(len(accuracy)), key=accuracy.__getitem__)
    return {
        "run": run.name,
        "schedule": "cosine" if config["train"].get("schedule") else "constant",
        "seed": config["seed"],
        "engine": config.get("engine", {}).get("name", "mlx"),
        "final": metrics["accuracy"],
        "best": accuracy[best],
        "best_epoch": best + 1,
        "last5": statistics.fmean(accuracy[-5:]),
        "epochs": len(history),
        "train_s": sum(h["train_time_s"] for h in history),
    }


def main(paths: list[str]) -> int:
    rows = [summarise(Path(p)) for p in paths if (Path(p) / "metrics.json").exists()]
    if not rows:
        print("no finished runs (metrics.json) among the given folders", file=sys.stderr)
        return 1
    print("| run | schedule | seed | engine | final model | best epoch (epoch) | "
          "mean of last 5 epochs | train time |")
    print("|---|---|---|---|---|---|---|---|")
    for r in sorted(rows, key=lambda r: (r["schedule"], r["seed"])):
        print(f"| {r['run']} | {r['schedule']} | {r['seed']} | {r['engine']} | "
              f"{100 * r['final']:.2f} % | {100 * r['best']:.2f} % ({r['best_epoch']}) | "
              f"{100 * r['last5']:.2f} % | {r['train_s'] / 60:.1f} min |")
    print()
    for schedule in sorted({r["schedule"] for r in rows}):
        group = [r for r in rows if r["schedule"] == schedule]
        for key in ("final", "best", "last5"):
            values = [100 * r[key] for r in group]
            spread = f" ± {statistics.stdev(values):.2f}" if len(values) > 1 else ""
            print(f"- {schedule}, {key}: mean {statistics.fmean(values):.2f} %{spread} "
                  f"(n = {len(values)}, min {min(values):.2f} %, max {max(values):.2f} %)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
