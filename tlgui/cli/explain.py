"""``tlgui explain MODEL.pt IMAGE_OR_FOLDER... --out DIR [--class NAME] [--json]``: where the
model looked. One overlay PNG per image (a Grad-CAM heatmap for the predicted class, or
``--class``); ``--json`` prints ``{"images": [{"path", "predicted", "probability", "heatmap",
"peak"}]}`` with ``peak`` [x, y] in the original image's pixels. An image the model cannot
take is named on stderr, one line each, and the others go on."""

from __future__ import annotations

import json
import sys


def register(sub) -> None:
    p = sub.add_parser(
        "explain", help="heatmaps of where a saved model looked (Grad-CAM), one overlay PNG per image",
        description="Writes OUT/NAME_heatmap.png for each image: the image with a Grad-CAM heatmap for the "
        "predicted class (or --class) over it. Folders are searched recursively.",
    )
    p.add_argument("model", metavar="MODEL.pt")
    p.add_argument("paths", nargs="+", metavar="IMAGE_OR_FOLDER")
    p.add_argument("--out", required=True, metavar="DIR", help="folder for the overlay PNGs")
    p.add_argument("--class", dest="class_name", metavar="NAME", help="explain this class instead of the predicted one")
    p.add_argument("--device", choices=("auto", "cpu", "cuda", "mps"), default="cpu")
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=run)


def run(args) -> int:
    import os

    from tlgui.core.base.errors import ConfigError
    from tlgui.core.base.files import writable_folder_problem
    from tlgui.core.results.explain import explain_files

    out = os.path.abspath(os.path.expanduser(args.out))
    problem = writable_folder_problem(out)
    if problem:
        raise ConfigError(f"cannot write heatmaps to {out}: {problem}")
    rows, problems = explain_files(args.model, args.paths, out, args.class_name, args.device)
    for path, reason in problems:
        print(f"cannot explain {path}: {reason}", file=sys.stderr)
    if args.json:
        print(json.dumps({"images": rows}))
    else:
        for row in rows:
            print(f"{row['path']}\t{row['predicted']}\t{row['probability']:.4f}\t{row['heatmap']}\t"
                  f"peak {row['peak'][0]},{row['peak'][1]}")
    if not rows:
        print("tlgui: none of the images could be explained", file=sys.stderr)
        return 1
    return 0
