"""The layer tree panel: which parts of the network train, as checkboxes and presets.

It edits a :class:`tlgui.core.layers.FreezePlan` only; the tree comes from a meta-device
model (no memory, no weights), never from the model a worker is training.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from typing import TYPE_CHECKING

from PySide6.QtCore import Signal, Slot
from PySide6.QtWidgets import (
    QAbstractItemView,
    QButtonGroup,
    QCheckBox,
    QGridLayout,
    QHeaderView,
    QLabel,
    QPushButton,
    QSizePolicy,
    QSpinBox,
    QStyle,
    QTreeView,
    QVBoxLayout,
    QWidget,
)

from tlgui.core.models.layers import (
    FreezePlan,
    FreezeReport,
    LayerNode,
    frozen_parameter_names,
)
from tlgui.core.models.lr_groups import module_scales
from tlgui.ui.widgets.layer_model import LayerTreeModel
from tlgui.ui.widgets.layer_stages import ArchitectureTree, architecture_tree

if TYPE_CHECKING:
    from torch import nn

_CACHE_SIZE = 6


class LayerTreePanel(QWidget):
    """Tri-state "trainable" checkboxes over the module tree, presets, and a live summary."""

    plan_changed = Signal(object)  # FreezePlan

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("layerTreePanel")
        self._model = LayerTreeModel(self)
        self._meta: nn.Module | None = None  # meta-device model of the current architecture
        self._own_names: dict[int, list[str]] = {}
        self._blocks: list[LayerNode] = []
        self._arch: tuple[str, int, int] | None = None
        self._lr_decay = 1.0  # the training panel's layer-rate decay, shown as "LR ×"
        self._cache: OrderedDict[tuple[str, int, int], ArchitectureTree] = OrderedDict()
        self._last_emitted: FreezePlan | None = None
        self._locked = False
        self._preset = "none"  # "none" | "backbone" | "last" | "custom"
        self._pending: FreezePlan | None = None  # a plan set before any architecture
        self.last_build_seconds = 0.0

        self.title = QLabel("No model chosen yet")
        self.title.setObjectName("layerTreeTitle")
        self.title.setWordWrap(True)

        presets = self._build_presets()
        self._build_view()
        self._build_labels()

        layout = QVBoxLayout(self)
        layout.addWidget(self.title)
        layout.addLayout(presets)
        layout.addWidget(self.view, 1)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.detail_label)
        layout.addWidget(self.bn_check)

    def _build_presets(self) -> QGridLayout:
        """The preset buttons: fine-tune everything, head only, the last N blocks."""
        self.finetune_button = QPushButton("Fine-tune everything")
        self.finetune_button.setObjectName("presetFinetune")
        self.finetune_button.setToolTip("Every layer trains (FreezePlan 'none')")
        self.head_button = QPushButton("Train head only")
        self.head_button.setObjectName("presetHead")
        self.head_button.setToolTip("Only the classification head trains; the backbone is frozen")
        self.last_button = QPushButton("Unfreeze the last")
        self.last_button.setObjectName("presetLast")
        self.blocks_spin = QSpinBox()
        self.blocks_spin.setObjectName("presetBlocks")
        self.blocks_spin.setRange(1, 1)
        self.blocks_spin.setSuffix(" blocks")
        self.blocks_spin.setAccessibleName("Number of last blocks to unfreeze")
        self._group = QButtonGroup(self)
        self._group.setExclusive(False)
        for button in (self.finetune_button, self.head_button, self.last_button):
            button.setCheckable(True)
            self._group.addButton(button)
        self.finetune_button.clicked.connect(self._on_finetune)
        self.head_button.clicked.connect(self._on_head)
        self.last_button.clicked.connect(self._on_last)
        self.blocks_spin.valueChanged.connect(self._on_blocks_value)

        # two rows: one row of four was the widest thing on the Train page (a laptop screen's width)
        presets = QGridLayout()
        presets.setContentsMargins(0, 0, 0, 0)
        presets.addWidget(self.finetune_button, 0, 0)
        presets.addWidget(self.head_button, 0, 1)
        presets.addWidget(self.last_button, 1, 0)
        presets.addWidget(self.blocks_spin, 1, 1)
        presets.setColumnStretch(2, 1)
        return presets

    def _build_view(self) -> None:
        self.view = QTreeView()
        self.view.setObjectName("layerTree")
        self.view.setModel(self._model)
        self._model.is_expanded = self.view.isExpanded
        self._model.set_indicator_width(
            self.view.style().pixelMetric(QStyle.PixelMetric.PM_IndicatorWidth, None, self.view)
        )
        self.view.setUniformRowHeights(True)  # keeps big trees fast to lay out
        self.view.setAlternatingRowColors(True)
        self.view.setSelectionMode(QAbstractItemView.SelectionMode.SingleSelection)
        self.view.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        header = self.view.header()
        # the name column is sized to the names (see _fit_name_column); the last column takes
        # what is left, and a narrow panel scrolls sideways instead of crushing the names
        header.setStretchLastSection(True)
        metrics = self.fontMetrics()
        for column, sample in ((1, "Conv2dNormActivation"), (2, "999,999,999"), (3, "frozen"), (4, "0.0156–1")):
            # fixed widths: ResizeToContents would measure every row of a big tree
            header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
            header.resizeSection(column, metrics.horizontalAdvance(sample) + 24)
        self._model.freeze_changed.connect(self._on_user_toggle)

    def _build_labels(self) -> None:
        self.summary_label = QLabel("")
        self.summary_label.setObjectName("layerTreeSummary")
        self.summary_label.setWordWrap(True)  # a narrow column (a laptop screen) wraps it
        font = self.summary_label.font()
        font.setBold(True)
        self.summary_label.setFont(font)
        self.detail_label = QLabel("")
        self.detail_label.setObjectName("layerTreeDetail")
        self.detail_label.setWordWrap(True)
        self.detail_label.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Minimum)

        self.bn_check = QCheckBox("Frozen BatchNorm layers update statistics")
        self.bn_check.setObjectName("bnUpdateFrozen")
        self.bn_check.setToolTip(
            "Off (recommended): frozen BatchNorm layers keep the running mean/variance they "
            "learned before.\nOn: they re-estimate them from your images while training."
        )
        self.bn_check.toggled.connect(self._on_bn_toggled)

    # ------------------------------------------------------------------ public API

    def set_architecture(self, name: str, num_classes: int, in_channels: int = 3) -> None:
        """Show the module tree of ``name`` with a ``num_classes`` head; keeps the plan if it fits."""
        start = time.perf_counter()
        key = (name, max(2, int(num_classes)), int(in_channels))
        if key == self._arch:
            return
        previous = self.plan() if self._arch is not None else self._pending
        previous_preset, previous_n = self._preset, self.blocks_spin.value()
        entry = self._cache.get(key)
        if entry is None:
            entry = architecture_tree(*key)
            self._cache[key] = entry
            while len(self._cache) > _CACHE_SIZE:
                self._cache.popitem(last=False)
        else:
            self._cache.move_to_end(key)
        meta, head, root, own_names, blocks = entry
        self._arch, self._meta, self._blocks = key, meta, blocks
        self._model.set_tree(root, head)
        self._own_names = {
            item.index_id: own_names[item.node.path]
            for item in self._model.items()
            if item.node.path in own_names
        }
        self.blocks_spin.blockSignals(True)
        self.blocks_spin.setRange(1, max(1, len(blocks)))
        self.blocks_spin.setValue(min(previous_n, max(1, len(blocks))))
        self.blocks_spin.blockSignals(False)
        self.blocks_spin.setToolTip("Stages, in forward order:\n" + "\n".join(b.path for b in blocks))
        self.title.setText(f"<b>{name}</b> — {root.total_params:,} parameters, head: <code>{head}</code>")
        if previous_preset == "last":
            self._apply_last(self.blocks_spin.value())
        elif previous is not None:
            try:
                self._apply_plan(previous)
            except Exception:  # noqa: BLE001 - paths of another architecture: start over
                self._apply_plan(FreezePlan("none", [], previous.bn_update_frozen))
        self.set_lr_decay(self._lr_decay)
        self.view.expandToDepth(0)
        self._fit_name_column()
        self._after_change()
        self.last_build_seconds = time.perf_counter() - start

    def set_lr_decay(self, decay: float) -> None:
        """Show each module's learning-rate multiple under ``--layer-lr-decay decay`` ("LR ×")."""
        self._lr_decay = float(decay)
        tree = self._model.root
        if self._arch is None or tree is None:
            return
        root = tree.node
        scales = {} if self._lr_decay >= 1 else module_scales(root, self._model.head_path, self._lr_decay)
        self._model.set_lr_scales(scales)

    def lr_decay(self) -> float:
        return self._lr_decay

    def plan(self) -> FreezePlan:
        """The smallest plan that says what the checkboxes say."""
        bn = self.bn_check.isChecked()
        model = self._model
        root = model.root
        if root is None or model.trainable_params() == model.total_params():
            return FreezePlan("none", [], bn)
        head = model.item(model.head_path)
        if head is not None and head.trainable == head.total == model.trainable_params():
            return FreezePlan("backbone", [], bn)
        paths = model.topmost_frozen()
        return FreezePlan("paths", paths, bn) if paths else FreezePlan("none", [], bn)

    def set_plan(self, plan: FreezePlan) -> None:
        """Tick the boxes to match ``plan``; raises ModelError for paths this model lacks."""
        self.bn_check.blockSignals(True)
        self.bn_check.setChecked(bool(plan.bn_update_frozen))
        self.bn_check.blockSignals(False)
        if self._meta is None:
            self._pending = plan
            return
        self._apply_plan(plan)
        self._after_change()

    def set_locked(self, locked: bool) -> None:
        """Read-only while a run trains (the plan is already handed to the worker)."""
        self._locked = bool(locked)
        self._model.set_locked(self._locked)
        for widget in (self.finetune_button, self.head_button, self.last_button, self.blocks_spin, self.bn_check):
            widget.setEnabled(not self._locked)

    def is_locked(self) -> bool:
        return self._locked

    def summary_text(self) -> str:
        trainable, total = self._model.trainable_params(), self._model.total_params()
        return FreezeReport(trainable, total - trainable, (), ()).describe()

    def blocks(self) -> list[str]:
        """Paths of the stages that "Unfreeze the last N blocks" counts, in forward order."""
        return [b.path for b in self._blocks]

    def tree_model(self) -> LayerTreeModel:
        return self._model

    def unfreeze_last(self, n: int) -> None:
        """The "Unfreeze the last N blocks" preset, as if the user had chosen it."""
        self.blocks_spin.blockSignals(True)
        self.blocks_spin.setValue(n)
        self.blocks_spin.blockSignals(False)
        self._on_last()

    def _fit_name_column(self) -> None:
        """Wide enough for the names two levels deep (deeper rows may scroll), at most 340 px."""
        metrics = self.fontMetrics()
        indent = self.view.indentation()
        widest = 0
        for item in self._model.items()[1:]:
            depth = item.node.path.count(".")
            if depth <= 2:
                widest = max(widest, (depth + 1) * indent + metrics.horizontalAdvance(item.node.name))
        self.view.header().resizeSection(0, min(340, widest + 40))  # + checkbox and margins

    # ------------------------------------------------------------------ presets

    @Slot()
    def _on_finetune(self) -> None:
        self._apply_plan(FreezePlan("none"))
        self._after_change()

    @Slot()
    def _on_head(self) -> None:
        self._apply_plan(FreezePlan("backbone"))
        self._after_change()

    @Slot()
    def _on_last(self) -> None:
        self._apply_last(self.blocks_spin.value())
        self._after_change()

    @Slot(int)
    def _on_blocks_value(self, _value: int) -> None:
        if self._preset == "last" and not self._locked:
            self._on_last()

    @Slot()
    def _on_user_toggle(self) -> None:
        self._after_change()

    @Slot(bool)
    def _on_bn_toggled(self, _checked: bool) -> None:
        self._after_change()

    def _apply_plan(self, plan: FreezePlan) -> None:
        if self._meta is None:
            return
        frozen = frozen_parameter_names(self._meta, plan, self._model.head_path)
        flags = {}
        root_frozen = False
        for index_id, names in self._own_names.items():
            if names and all(n in frozen for n in names):
                if index_id == 0:
                    root_frozen = True
                else:
                    flags[index_id] = True
        self._model.set_frozen_flags(flags, root_frozen)

    def _apply_last(self, n: int) -> None:
        if not self._blocks:
            self._apply_plan(FreezePlan("none"))
            return
        self._model.set_frozen_flags(dict.fromkeys(self._last_flags(n), True))

    def _last_flags(self, n: int) -> set[int]:
        """Modules frozen by "unfreeze the last N": everything before the N-th last stage
        except that stage's ancestors (whose later children still train)."""
        n = max(1, min(n, len(self._blocks)))
        first = self._model.item(self._blocks[len(self._blocks) - n].path)
        if first is None:  # (the stages come from this very tree)
            return set()
        ancestors = set()
        parent = first.parent
        while parent is not None:
            ancestors.add(parent.index_id)
            parent = parent.parent
        return {i.index_id for i in self._model.items()[: first.index_id] if i.index_id not in ancestors}

    # ------------------------------------------------------------------ feedback

    def _after_change(self) -> None:
        plan = self.plan()
        self._preset = self._matching_preset(plan)
        for button, name in (
            (self.finetune_button, "none"),
            (self.head_button, "backbone"),
            (self.last_button, "last"),
        ):
            button.setChecked(self._preset == name)
        self.summary_label.setText(self.summary_text())
        self.detail_label.setText(self._detail_text(plan))
        if plan != self._last_emitted:
            self._last_emitted = plan
            self.plan_changed.emit(plan)

    def _matching_preset(self, plan: FreezePlan) -> str:
        if plan.mode in ("none", "backbone"):
            return plan.mode
        if plan.mode == "paths" and self._blocks:
            items = self._model.items()
            actual = {i.index_id for i in items if i.own_frozen and i.node.own_params}
            wanted = {k for k in self._last_flags(self.blocks_spin.value()) if items[k].node.own_params}
            if actual == wanted:
                return "last"
        return "custom"

    def _detail_text(self, plan: FreezePlan) -> str:
        model = self._model
        if model.root is None:
            return ""
        if model.trainable_params() == 0:
            return "Nothing would train: tick at least the head."
        parts = []
        if plan.mode == "paths":
            shown = ", ".join(plan.paths[:4]) + (f" and {len(plan.paths) - 4} more" if len(plan.paths) > 4 else "")
            parts.append(f"Frozen: {shown}.")
        elif plan.mode == "backbone":
            parts.append(f"Frozen: everything except the head ({model.head_path}).")
        bn = len(model.frozen_batchnorm())
        if bn:
            keep = "update their statistics" if plan.bn_update_frozen else "keep their statistics"
            parts.append(f"{bn} frozen BatchNorm layer{'s' if bn != 1 else ''} {keep}.")
        return " ".join(parts)

