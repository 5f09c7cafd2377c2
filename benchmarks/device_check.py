"""One short, prepared check of tlgui's accelerator paths; prints figures as JSON lines.

    python benchmarks/device_check.py [--device cuda|cpu] [--out DIR]

On CUDA it checks: training runs with bf16 autocast and channels_last (loss finite, accuracy
learned); evaluation agrees with training's final validation accuracy; an out-of-memory
error becomes tlgui's plain message (a deliberately huge batch); throughput of tlgui's loop
against a plain PyTorch loop (ratio). On the CPU the same script runs as a smoke test.
Meant for a session lent a GPU; CI never runs it.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time


def line(**fields) -> None:
    print(json.dumps(fields), flush=True)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--device", default="cuda" if _cuda() else "cpu", choices=("cuda", "cpu"))
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    out = args.out or tempfile.mkdtemp(prefix="tlgui-device-")
    os.environ.setdefault("TLGUI_HOME", os.path.join(out, "home"))

    import torch

    from tlgui.core.base.config import TrainConfig
    from tlgui.core.base.errors import TrainingError
    from tlgui.core.results.evaluate import evaluate_model
    from tlgui.core.training.loop import train

    ok = True
    if args.device == "cuda":
        line(check="device", name=torch.cuda.get_device_name(0), bf16=torch.cuda.is_bf16_supported(),
             torch=torch.__version__)

    # 1. the demo on this device (smallcnn: autocast + channels_last on CUDA)
    start = time.perf_counter()
    result = train(TrainConfig(data="demo:source", val_data="demo:source", model="smallcnn", epochs=3,
                               batch_size=128, lr=3e-3, schedule="onecycle", device=args.device,
                               out=os.path.join(out, "smallcnn")))
    acc = result.summary["final_val_accuracy"]
    passed = result.status == "completed" and acc is not None and acc > 0.5
    ok &= passed
    line(check="train_smallcnn", ok=passed, val_accuracy=acc, seconds=round(time.perf_counter() - start, 2),
         images_per_second=result.summary["images_per_second"], device=result.summary["device"])

    # 2. evaluation of the saved model agrees with training's last validation (bf16 vs fp32 tolerance)
    ev = evaluate_model(os.path.join(out, "smallcnn", "model.pt"), "demo:source", "test", args.device)
    passed = abs(ev.accuracy - acc) < 0.02
    ok &= passed
    line(check="evaluate_agrees", ok=passed, evaluate=ev.accuracy, training=acc)

    # 3. a torchvision model with BatchNorm and a frozen backbone, at 64 px
    folder = os.path.join(out, "rgb")
    _rgb_folder(folder)
    result = train(TrainConfig(data=folder, model="resnet18", freeze="upto:layer2", image_size=64, epochs=2,
                               batch_size=32, device=args.device, out=os.path.join(out, "resnet18")))
    passed = result.status == "completed"
    ok &= passed
    line(check="train_resnet18_frozen_prefix", ok=passed, val_accuracy=result.summary["final_val_accuracy"],
         trainable=result.summary["trainable_params"], frozen=result.summary["frozen_params"])

    # 4. out of memory becomes a plain message (CUDA only: a batch far beyond any GPU)
    if args.device == "cuda":
        try:
            train(TrainConfig(data=folder, model="vit_h_14", image_size=518, epochs=1, batch_size=4096,
                              device="cuda", out=os.path.join(out, "oom")))
            passed, message = False, "no error"
        except TrainingError as exc:
            passed, message = "ran out of memory" in str(exc), str(exc)
        except Exception as exc:  # noqa: BLE001 - this is what the check looks for
            passed, message = False, f"{type(exc).__name__}: {exc}"
        torch.cuda.empty_cache()
        ok &= passed
        line(check="oom_message", ok=passed, message=message[:200])

    # 5. tlgui's loop against a plain loop on this device
    from benchmarks.bench_training import main as bench  # noqa: E402

    if args.device == "cpu":
        line(check="throughput", note="see benchmarks/bench_training.py (CPU)")
    else:
        bench(["--repeats", "3", "--images", "8192", "--epochs", "2", "--batch", "256", "--device", "cuda"])
    line(check="done", ok=bool(ok))
    return 0 if ok else 1


def _cuda() -> bool:
    try:
        import torch

        return torch.cuda.is_available()
    except Exception:  # noqa: BLE001
        return False


def _rgb_folder(root: str, per_class: int = 40) -> None:
    import numpy as np
    from PIL import Image

    rng = np.random.default_rng(0)
    for c, colour in enumerate(((220, 40, 40), (40, 200, 60), (50, 70, 230))):
        os.makedirs(os.path.join(root, f"c{c}"), exist_ok=True)
        for i in range(per_class):
            image = np.clip(rng.normal(0, 40, (48, 48, 3)) + colour, 0, 255).astype(np.uint8)
            Image.fromarray(image, "RGB").save(os.path.join(root, f"c{c}", f"{i}.png"))


if __name__ == "__main__":
    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    sys.exit(main())
