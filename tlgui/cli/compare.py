"""``tlgui compare``: did transfer help? Train from scratch, the head only, and fine-tune
everything (same data, split, epochs and seed); write compare.json and compare.png."""

from __future__ import annotations

import json


def register(sub) -> None:
    p = sub.add_parser(
        "compare",
        help="did transfer help? train from scratch, head only and fine-tuned, and compare",
        description="Runs each strategy as an ordinary training run in its own sub-folder of --out "
        "(scratch: random weights; head: --weights with the backbone frozen; finetune: --weights, "
        "everything trained), then writes compare.json (figures, curves, verdict) and compare.png.",
    )
    p.add_argument("--data", required=True, help="training data (as for 'tlgui train')")
    p.add_argument("--val-data", help="separate validation data (otherwise a stratified split of --data)")
    p.add_argument("--model", required=True, help="architecture, e.g. smallcnn or resnet18")
    p.add_argument("--weights", required=True,
                   help="pretrained weights for head/finetune: default, demo:source or a file")
    p.add_argument("--epochs", type=int, required=True)
    p.add_argument("--strategies", default="scratch,head,finetune",
                   help="comma-separated subset, in order (default all three)")
    p.add_argument("--out", required=True, help="folder for the runs and compare.json/compare.png")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--batch-size", type=int, default=64)
    p.add_argument("--lr", type=float, help="one learning rate for all strategies (default: the optimizer's)")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="auto")
    p.add_argument("--max-train-images", type=int, help="use at most this many training images (stratified)")
    p.add_argument("--image-size", type=int)
    p.add_argument("--split", choices=("train", "test"), default="train",
                   help="split of --data for IDX/torchvision sources")
    p.add_argument("--val-split", type=float, default=0.2, help="share held out for validation without --val-data")
    p.add_argument("--optimizer", choices=("sgd", "adam", "adamw"), default="adam")
    p.add_argument("--schedule", choices=("constant", "cosine", "onecycle"), default="cosine")
    p.add_argument("--overwrite", action="store_true", help="replace finished runs in --out")
    p.add_argument("--json", action="store_true", help="print compare.json's content at the end")
    p.add_argument("--quiet", action="store_true", help="print only the verdict")
    p.set_defaults(func=run)


class _Printer:
    def __init__(self, quiet: bool):
        self.quiet = quiet

    def __call__(self, event) -> None:
        from tlgui.core.base.events import EpochStats, Stage
        from tlgui.core.workflows.compare import StrategyFinished, StrategyStarted

        if self.quiet:
            return
        if isinstance(event, StrategyStarted):
            print(f"[{event.index}/{event.count}] {event.label} -> {event.run_dir}", flush=True)
        elif isinstance(event, EpochStats):
            print(f"  epoch {event.epoch}/{event.epochs}  val_acc {event.val_accuracy:.3f}  ({event.seconds:.1f}s)",
                  flush=True)
        elif isinstance(event, StrategyFinished):
            final = "n/a" if event.final_val_accuracy is None else f"{event.final_val_accuracy:.3f}"
            print(f"  {event.status}: final val_acc {final} in {event.seconds:.1f}s", flush=True)
        elif isinstance(event, Stage) and event.name == "pretrain":
            print(event.detail, flush=True)


def run(args) -> int:
    from tlgui.core.training.control import TrainControl
    from tlgui.core.workflows.compare import CompareConfig, run_comparison

    config = CompareConfig(
        data=args.data, val_data=args.val_data, model=args.model, weights=args.weights,
        epochs=args.epochs, strategies=tuple(s.strip() for s in args.strategies.split(",") if s.strip()),
        out=args.out, seed=args.seed, batch_size=args.batch_size, lr=args.lr, device=args.device,
        max_train_images=args.max_train_images, image_size=args.image_size, split=args.split,
        val_split=args.val_split, optimizer=args.optimizer, schedule=args.schedule,
    )
    from tlgui.core.training.precision import use_default_threads

    use_default_threads()  # the same measured choice as the window's worker
    control = TrainControl()
    try:
        result = run_comparison(config, _Printer(args.quiet or args.json), control, overwrite=args.overwrite)
    except KeyboardInterrupt:
        control.stop()
        raise
    if args.json:
        with open(result.json_path, encoding="utf-8") as handle:
            print(json.dumps(json.load(handle)))
    else:
        print(result.verdict)
        print(f"wrote {result.json_path} and {result.png_path}")
    return 0
