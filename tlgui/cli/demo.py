"""``tlgui demo``: pretrain on the source shapes, then compare transfer strategies."""

from __future__ import annotations

import json
import time
from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("demo", help="run the built-in transfer-learning demo (about a minute on a CPU)")
    p.add_argument("--out", default=None, help="folder for the three runs (default: a temp folder in the data dir)")
    p.add_argument("--epochs", type=int, default=None, help="epochs per strategy (default 12)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--json", action="store_true", help="print one JSON object at the end")
    p.set_defaults(func=run)


def run_demo(out: Path, epochs: int | None = None, seed: int = 0, log=print) -> dict:
    from ..core.demo import DEMO_EPOCHS, STRATEGIES, demo_config, ensure_demo_source_model

    epochs = epochs or DEMO_EPOCHS
    from ..core.training import train

    start = time.perf_counter()
    ensure_demo_source_model()
    pretrain_seconds = time.perf_counter() - start
    log(f"source model ready ({pretrain_seconds:.1f}s)")
    results = {}
    for strategy in STRATEGIES:
        config = demo_config(strategy, str(out / strategy), epochs, seed)
        result = train(config, overwrite=True)
        s = result.summary
        results[strategy] = {
            "best_val_accuracy": s["best_val_accuracy"],
            "final_val_accuracy": s["final_val_accuracy"],
            "seconds": s["train_seconds"],
        }
        log(f"{strategy:<9} final val_acc {s['final_val_accuracy']:.3f}  best {s['best_val_accuracy']:.3f}  {s['train_seconds']:.1f}s")
    return {"strategies": results, "pretrain_seconds": pretrain_seconds, "total_seconds": time.perf_counter() - start}


def run(args) -> int:
    from ..paths import data_dir

    out = Path(args.out) if args.out else data_dir() / "demo-runs"
    report = run_demo(out, args.epochs, args.seed, log=(lambda *_: None) if args.json else print)
    s = report["strategies"]
    if args.json:
        print(json.dumps(report))
    else:
        gain = 100 * (s["finetune"]["final_val_accuracy"] - s["scratch"]["final_val_accuracy"])
        print(f"fine-tuning the pretrained source model gave {gain:+.1f} points over training from scratch "
              f"({report['total_seconds']:.0f}s in all)")
    return 0
