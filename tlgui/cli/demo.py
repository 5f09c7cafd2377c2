"""``tlgui demo``: pretrain on the source shapes, then run the transfer check on the target."""

from __future__ import annotations

import json
import time
from dataclasses import asdict
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser(
        "demo",
        help="run the built-in transfer-learning demo (about a minute on a CPU)",
        description="Pretrains smallcnn on 10 drawn shapes (once), then trains it on 6 new shapes "
        "from scratch, head-only and fully fine-tuned, and says which helped.",
    )
    p.add_argument("--out", default=None, help="folder for the runs, compare.json and compare.png")
    p.add_argument("--epochs", type=int, default=None, help="epochs per strategy (default 12)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    p.set_defaults(func=run)


def run_demo(out: Path, epochs: int | None = None, seed: int = 0, log=print) -> dict:
    from tlgui.core.workflows.compare import run_comparison
    from tlgui.core.workflows.demo import DEMO_EPOCHS, demo_compare_config, ensure_demo_source_model

    start = time.perf_counter()
    ensure_demo_source_model()
    pretrain_seconds = time.perf_counter() - start
    log(f"source model ready ({pretrain_seconds:.1f}s)")
    result = run_comparison(demo_compare_config(str(out), epochs or DEMO_EPOCHS, seed), overwrite=True)
    strategies = {name: asdict(r) for name, r in result.strategies.items()}
    for name, r in strategies.items():
        log(f"{name:<9} final val_acc {r['final_val_accuracy']:.3f}  best {r['best_val_accuracy']:.3f}  "
            f"{r['seconds']:.1f}s")
    return {
        "status": result.status,
        "strategies": strategies,
        "verdict": result.verdict,
        "compare_json": result.json_path,
        "compare_png": result.png_path,
        "pretrain_seconds": round(pretrain_seconds, 2),
        "total_seconds": round(time.perf_counter() - start, 2),
    }


def run(args) -> int:
    from ..paths import data_dir

    out = Path(args.out) if args.out else data_dir() / "demo-runs"
    report = run_demo(out, args.epochs, args.seed, log=(lambda *_: None) if args.json else print)
    if args.json:
        print(json.dumps(report))
    else:
        print(report["verdict"])
        print(f"({report['total_seconds']:.0f}s in all; chart: {report['compare_png']})")
    return 0 if report["status"] == "completed" else 1
