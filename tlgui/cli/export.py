"""``tlgui export MODEL.pt --format torchscript|onnx|bundle --out PATH``."""

from __future__ import annotations


def register(sub) -> None:
    p = sub.add_parser(
        "export",
        help="export a model.pt as TorchScript, ONNX, or a stand-alone bundle folder",
        description="torchscript: one .ts file (torch.jit.load); onnx: one .onnx file (opset 18, "
        "dynamic batch; needs tlgui[export]); bundle: a folder with the TorchScript model, labels.json, "
        "preprocessing.json, README.md and predict.py that needs only torch, torchvision and Pillow. "
        "Every export is checked against the original model.",
    )
    p.add_argument("model", metavar="MODEL.pt")
    p.add_argument("--format", required=True, choices=("torchscript", "onnx", "bundle"))
    p.add_argument("--out", required=True, metavar="PATH", help="file (torchscript, onnx) or folder (bundle)")
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
