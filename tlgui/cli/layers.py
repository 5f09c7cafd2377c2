"""``tlgui layers NAME|MODEL.pt``: the layer tree with parameter counts."""

from __future__ import annotations

from pathlib import Path


def register(sub) -> None:
    p = sub.add_parser("layers", help="show a model's layer tree with parameter counts")
    p.add_argument("model", nargs="?", metavar="NAME|MODEL.pt")
    p.add_argument("--classes", type=int, default=10, help="head size for an architecture name (default 10)")
    p.add_argument("--depth", type=int, default=None, help="show at most this many levels")
    p.add_argument("--list", action="store_true", help="list every architecture name")
    p.set_defaults(func=run)


def run(args) -> int:
    from tlgui.core.base.errors import ConfigError
    from tlgui.core.models.layers import format_tree, layer_tree
    from tlgui.core.models.zoo import build_model, family_of, list_architectures, model_input_channels

    if args.list:
        for name in list_architectures():
            print(f"{name:<28} {family_of(name)}")
        _print_timm_names()
        return 0
    if not args.model:
        raise ConfigError("give an architecture name or a model.pt (or --list)")
    if args.model.endswith((".pt", ".pth")) or Path(args.model).is_file():
        from tlgui.core.models.checkpoint import load_checkpoint

        ckpt = load_checkpoint(args.model)
        model = build_model(ckpt["architecture"], len(ckpt["classes"]), int(ckpt.get("in_channels", 3)), device="meta")
        print(f"{ckpt['architecture']} trained on {len(ckpt['classes'])} classes: {', '.join(ckpt['classes'][:10])}")
    else:
        model = build_model(args.model, args.classes, model_input_channels(args.model), device="meta")
    print(format_tree(layer_tree(model), args.depth))
    return 0


def _print_timm_names() -> None:
    from tlgui.core.models.timm_zoo import (
        INSTALL_HINT,
        TIMM_PREFIX,
        timm_available,
        timm_model_names,
    )

    if not timm_available():
        print(f"(timm architectures are available with the timm extra: {INSTALL_HINT})")
        return
    for name in timm_model_names():
        print(f"{TIMM_PREFIX + name:<28} timm")
