"""Layer trees with parameter counts, and freeze plans applied to a model.

A freeze plan is plain data (the GUI edits it, the CLI parses it); applying it sets
``requires_grad`` and decides which BatchNorm layers stay in eval mode.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from torch import nn

from tlgui.core.base.errors import ModelError

_BN_TYPES = (nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm)


@dataclass
class LayerNode:
    path: str  # dotted module path; "" for the root
    name: str  # last path component (the class name for the root)
    type_name: str
    own_params: int  # parameters registered directly on this module
    total_params: int  # own + all descendants
    children: list[LayerNode] = field(default_factory=list)

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()

    def find(self, path: str) -> LayerNode | None:
        for node in self.walk():
            if node.path == path:
                return node
        return None


def layer_tree(model: nn.Module) -> LayerNode:
    """The module hierarchy; works on meta-device models (no memory needed)."""

    def build(module: nn.Module, path: str, name: str) -> LayerNode:
        own = sum(p.numel() for p in module.parameters(recurse=False))
        children = [
            build(child, f"{path}.{child_name}" if path else child_name, child_name)
            for child_name, child in module.named_children()
        ]
        total = own + sum(c.total_params for c in children)
        return LayerNode(path, name, type(module).__name__, own, total, children)

    return build(model, "", type(model).__name__)


def format_tree(node: LayerNode, max_depth: int | None = None) -> str:
    lines = [f"{'module':<48} {'type':<24} {'params':>14}"]

    def visit(n: LayerNode, depth: int) -> None:
        label = ("  " * depth + (n.name if n.path else "(model)"))[:48]
        lines.append(f"{label:<48} {n.type_name[:24]:<24} {n.total_params:>14,}")
        if max_depth is None or depth < max_depth:
            for child in n.children:
                visit(child, depth + 1)

    visit(node, 0)
    return "\n".join(lines)


@dataclass
class FreezePlan:
    """What to freeze. ``mode``: "none", "backbone", "upto" (with one path) or "paths"."""

    mode: str = "none"
    paths: list[str] = field(default_factory=list)
    bn_update_frozen: bool = False  # True: frozen BatchNorm layers still update running stats

    @classmethod
    def parse(cls, spec: str | None, bn_update_frozen: bool = False) -> FreezePlan:
        spec = (spec or "none").strip()
        if spec in ("none", ""):
            return cls("none", [], bn_update_frozen)
        if spec == "backbone":
            return cls("backbone", [], bn_update_frozen)
        if spec.startswith("upto:"):
            path = spec[len("upto:") :].strip()
            if not path:
                raise ModelError("--freeze upto: needs a module path, e.g. upto:layer3")
            return cls("upto", [path], bn_update_frozen)
        paths = [p.strip() for p in spec.split(",") if p.strip()]
        return cls("paths", paths, bn_update_frozen)

    def to_spec(self) -> str:
        if self.mode in ("none", "backbone"):
            return self.mode
        if self.mode == "upto":
            return f"upto:{self.paths[0]}"
        return ",".join(self.paths) if self.paths else "none"


@dataclass(frozen=True)
class FreezeReport:
    trainable_params: int
    frozen_params: int
    frozen_modules: tuple[str, ...]  # top-most frozen module paths
    frozen_bn: tuple[str, ...]  # BatchNorm layers kept in eval mode

    @property
    def total_params(self) -> int:
        return self.trainable_params + self.frozen_params

    def describe(self) -> str:
        pct = 100.0 * self.trainable_params / max(1, self.total_params)
        return (
            f"Trainable: {self.trainable_params:,} of {self.total_params:,} parameters ({pct:.2f} %)"
        )


def forward_order(model: nn.Module) -> list[str]:
    """Module paths in registration order, which for torchvision models is forward order."""
    return [path for path, _ in model.named_modules() if path]


def _check_paths(model: nn.Module, paths: list[str]) -> None:
    known = forward_order(model)
    known_set = set(known)
    for path in paths:
        if path not in known_set:
            close = difflib.get_close_matches(path, known, n=5, cutoff=0.4)
            if not close:
                close = [p for p in known if "." not in p][:8]
            raise ModelError(
                f"--freeze: the model has no module {path!r}; close names: {', '.join(close)}"
            )


def frozen_parameter_names(model: nn.Module, plan: FreezePlan, head_path: str) -> set[str]:
    """Names (as in ``named_parameters``) of the parameters the plan freezes."""
    names = [n for n, _ in model.named_parameters()]
    if plan.mode == "none":
        return set()
    if plan.mode == "backbone":
        return {n for n in names if not _under(n, head_path)}
    _check_paths(model, plan.paths)
    if plan.mode == "upto":
        order = forward_order(model)
        stop = plan.paths[0]
        index = order.index(stop)
        # every module registered before PATH, and PATH itself with its descendants; PATH's
        # ancestors come earlier in the order but hold later layers too, so they are skipped
        ancestors = {stop.rsplit(".", k)[0] for k in range(1, stop.count(".") + 1)}
        prefixes = [p for p in order[: index + 1] if p not in ancestors]
        return {n for n in names if any(_under(n, p) for p in prefixes)}
    return {n for n in names if any(_under(n, p) for p in plan.paths)}


def _under(param_name: str, module_path: str) -> bool:
    return module_path == "" or param_name.startswith(module_path + ".")


def apply_freeze(model: nn.Module, plan: FreezePlan, head_path: str) -> FreezeReport:
    """Set ``requires_grad`` from the plan and return parameter counts."""
    frozen_names = frozen_parameter_names(model, plan, head_path)
    trainable = frozen = 0
    for name, param in model.named_parameters():
        is_frozen = name in frozen_names
        param.requires_grad_(not is_frozen)
        if is_frozen:
            frozen += param.numel()
        else:
            trainable += param.numel()

    frozen_bn = []
    for path, module in model.named_modules():
        if isinstance(module, _BN_TYPES):
            params = [f"{path}.{n}" for n, _ in module.named_parameters(recurse=False)]
            if params and all(p in frozen_names for p in params):
                frozen_bn.append(path)

    return FreezeReport(
        trainable_params=trainable,
        frozen_params=frozen,
        frozen_modules=tuple(_topmost_frozen(model, frozen_names)),
        frozen_bn=tuple(frozen_bn),
    )


def _topmost_frozen(model: nn.Module, frozen_names: set[str]) -> list[str]:
    result: list[str] = []
    for path, module in model.named_modules():
        if not path or any(path.startswith(r + ".") for r in result):
            continue
        params = [f"{path}.{n}" for n, _ in module.named_parameters()]
        if params and all(p in frozen_names for p in params):
            result.append(path)
    return result


def set_train_mode(model: nn.Module, report: FreezeReport, bn_update_frozen: bool) -> None:
    """``model.train()``, but every frozen module runs in eval mode: BatchNorm keeps its
    running statistics, Dropout and StochasticDepth inside frozen blocks are off. With
    ``bn_update_frozen`` the frozen BatchNorm layers (only they) still update their statistics."""
    model.train()
    for path in report.frozen_modules:
        model.get_submodule(path).eval()
    for module in _parameterless_leaves_before_training(model):  # e.g. VGG's Dropouts before its head
        module.eval()
    if bn_update_frozen:
        for path in report.frozen_bn:
            model.get_submodule(path).train()


def _parameterless_leaves_before_training(model: nn.Module) -> list[nn.Module]:
    """Leaf modules without parameters (Dropout, StochasticDepth) that run before the first
    trainable layer: they belong to the frozen part even where their parent also holds the head."""
    found = []
    for _, module in model.named_modules():
        own = list(module.parameters(recurse=False))
        if any(p.requires_grad for p in own):
            break
        if not own and next(module.children(), None) is None:
            found.append(module)
    return found


def trainable_parameters(model: nn.Module):
    return [p for p in model.parameters() if p.requires_grad]
