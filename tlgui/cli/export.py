"""``tlgui export MODEL.pt --format pt2|torchscript|onnx|bundle --out PATH``."""

from __future__ import annotations

FORMATS = ("pt2", "torchscript", "onnx", "bundle")  # tlgui.core.results.export.FORMATS, without importing torch


def register(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a model.pt as torch.export (.pt2), ONNX, TorchScript (deprecated), or a bundle folder",
        description="pt2: one .pt2 file, a torch.export program (torch.export.load in Python, AOTInductor for "
        "C++; dynamic batch); onnx: one .onnx file (opset 18, dynamic batch; needs tlgui[export]); "
        "torchscript: one .ts file (torch.jit.load) - deprecated by PyTorch, prefer pt2 or onnx; bundle: a folder "
        "with the model as .pt2 and .ts, labels.json, preprocessing.json, README.md and predict.py that needs "
        "only torch, torchvision and Pillow. Every export is checked against the original model.",
    )
    p.add_argument("model", metavar="MODEL.pt")
    p.add_argument("--format", required=True, choices=FORMATS,
                   help="pt2 or onnx recommended; torchscript is deprecated by PyTorch")
    p.add_argument("--out", required=True, metavar="PATH", help="file (pt2, torchscript, onnx) or folder (bundle)")
    p.add_argument("--overwrite", action="store_true",
                   help="replace an existing output file, or an earlier bundle in the --out folder")
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=run)


def run(args) -> int:
    from tlgui.core.results.export import export_model

    result = export_model(args.model, args.format, args.out, overwrite=args.overwrite)
    if not args.quiet:
        for line in result.checks:
            print(f"checked: {line}")
    print(f"exported {args.format} to {result.path}")
    return 0
