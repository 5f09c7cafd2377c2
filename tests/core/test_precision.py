"""--precision auto|fp32|bf16, channels_last, the thread choice, per-sample augmentation."""

import json

import pytest
import torch

from tlgui.core.base.config import TrainConfig
from tlgui.core.base.errors import ConfigError
from tlgui.core.base.events import Message
from tlgui.core.training import precision
from tlgui.core.training.augment import augment_batch
from tlgui.core.training.loop import train

from .learnable import image_folder

CPU = torch.device("cpu")


@pytest.fixture
def native_bf16(monkeypatch):
    def set_native(value: bool):
        monkeypatch.setattr(precision, "cpu_has_native_bf16", lambda: value)

    return set_native


def test_auto_uses_bf16_only_where_the_cpu_has_it(native_bf16):
    native_bf16(True)
    assert precision.resolve_precision("auto", CPU).autocast_dtype is torch.bfloat16
    native_bf16(False)
    choice = precision.resolve_precision("auto", CPU)
    assert choice.name == "fp32" and choice.autocast_dtype is None and choice.note == ""


def test_bf16_without_native_support_falls_back_with_one_line(native_bf16):
    native_bf16(False)
    choice = precision.resolve_precision("bf16", CPU)
    assert choice.name == "fp32" and "no native bf16" in choice.note and "fp32" in choice.note
    native_bf16(True)
    assert precision.resolve_precision("bf16", CPU).name == "bf16"
    assert precision.resolve_precision("fp32", CPU).name == "fp32"


def test_cpu_flags_are_read_from_cpuinfo(monkeypatch, tmp_path):
    import builtins

    real_open = builtins.open
    for flags, expected in (("fpu avx2 avx512f avx512_bf16", True), ("fpu avx2 amx_bf16 amx_tile", True),
                            ("fpu sse2 avx2 fma", False)):
        fake = tmp_path / "cpuinfo"
        fake.write_text(f"processor\t: 0\nflags\t\t: {flags}\n")
        monkeypatch.setattr(precision.platform, "system", lambda: "Linux")
        monkeypatch.setattr(builtins, "open",
                            lambda p, *a, f=fake, **k: real_open(f if p == "/proc/cpuinfo" else p, *a, **k))
        assert precision._cpu_flags_say_bf16() is expected
        monkeypatch.setattr(builtins, "open", real_open)


def test_precision_is_validated_and_recorded(tmp_path, native_bf16):
    with pytest.raises(ConfigError, match="--precision"):
        TrainConfig(data="x", model="smallcnn", precision="fp16").validate()
    native_bf16(False)
    events = []
    data = image_folder(tmp_path / "data", per_class=6)
    train(TrainConfig(data=str(data), model="smallcnn", out=str(tmp_path / "run"), epochs=1, batch_size=8,
                      precision="bf16"), events.append)
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    config = json.loads((tmp_path / "run" / "config.json").read_text())
    assert summary["precision"] == "fp32" and config["precision"] == "bf16"
    assert any(isinstance(e, Message) and "no native bf16" in e.text for e in events)


def test_bf16_autocast_trains_when_native(tmp_path, native_bf16):
    native_bf16(True)  # emulated here if the CPU lacks it: slow but correct
    data = image_folder(tmp_path / "data", per_class=6)
    result = train(TrainConfig(data=str(data), model="smallcnn", out=str(tmp_path / "run"), epochs=1,
                               batch_size=8, precision="bf16"))
    assert result.summary["precision"] == "bf16" and result.status == "completed"


def test_convolutional_models_use_channels_last():
    from tlgui.core.models.zoo import build_model

    model = build_model("smallcnn", 3, 1)
    assert precision.use_channels_last(model)
    conv = next(m for m in model.modules() if isinstance(m, torch.nn.Conv2d))
    assert conv.weight.is_contiguous(memory_format=torch.channels_last)
    assert not precision.use_channels_last(torch.nn.Sequential(torch.nn.Linear(3, 2)))


def test_thread_choice_is_shared_by_cli_and_window():
    from tlgui.workers.jobs import default_num_threads

    assert default_num_threads() == precision.default_num_threads() >= 1


def test_each_image_gets_its_own_flip():
    x = torch.arange(64 * 4, dtype=torch.uint8).reshape(64, 1, 2, 2).repeat(1, 1, 1, 1)
    out = augment_batch(x, "flip", torch.Generator().manual_seed(0))
    flipped = torch.tensor([torch.equal(o, i.flip(-1)) and not torch.equal(o, i) for o, i in zip(out, x, strict=True)])
    assert 0 < int(flipped.sum()) < 64  # some flipped, some not: per image, not per batch
    assert torch.equal(augment_batch(x, "flip", torch.Generator().manual_seed(0)), out)  # same seed, same views
    assert augment_batch(x, "none", torch.Generator()) is x


def test_standard_shifts_differ_per_image():
    x = torch.randint(0, 255, (1, 3, 32, 32), dtype=torch.uint8).repeat(32, 1, 1, 1)
    out = augment_batch(x, "standard", torch.Generator().manual_seed(1))
    assert out.shape == x.shape and out.dtype == torch.uint8
    distinct = {bytes(o.numpy().tobytes()) for o in out}
    assert len(distinct) > 8


@pytest.mark.parametrize("native, flag, used", [(True, "auto", "bf16"), (False, "auto", "fp32"),
                                                 (True, "fp32", "fp32"), (False, "bf16", "fp32")])
def test_cli_precision_flag(tmp_path, capsys, native_bf16, native, flag, used):
    from tlgui.cli import main as cli

    native_bf16(native)
    data = image_folder(tmp_path / "data", per_class=6)
    run = tmp_path / "run"
    assert cli(["train", "--data", str(data), "--model", "smallcnn", "--epochs", "1", "--batch-size", "8",
                "--precision", flag, "--out", str(run)]) == 0
    out = capsys.readouterr()
    assert json.loads((run / "summary.json").read_text())["precision"] == used
    assert json.loads((run / "config.json").read_text())["precision"] == flag
    fallback = [line for line in (out.out + out.err).splitlines() if "no native bf16" in line]
    assert len(fallback) == (1 if flag == "bf16" and not native else 0)


def test_training_runs_a_convolutional_model_channels_last(tmp_path, monkeypatch):
    from tlgui.core.training import loop

    data = image_folder(tmp_path / "data", per_class=6, mode="RGB")  # 1 channel is channels_last anyway
    seen, real_prepare = [], loop.prepare

    def prepare_and_watch(*args, **kwargs):  # the run's own model, hooked before it trains
        prepared = real_prepare(*args, **kwargs)
        convs = [m for m in prepared.model.modules() if isinstance(m, torch.nn.Conv2d)]
        assert prepared.channels_last is True
        assert all(c.weight.is_contiguous(memory_format=torch.channels_last) for c in convs)
        convs[0].register_forward_pre_hook(
            lambda _m, inp: seen.append(inp[0].is_contiguous(memory_format=torch.channels_last)))
        return prepared

    monkeypatch.setattr(loop, "prepare", prepare_and_watch)
    result = train(TrainConfig(data=str(data), model="smallcnn", out=str(tmp_path / "run"), epochs=1, batch_size=8))
    assert result.status == "completed"
    assert len(seen) >= 2 and all(seen)  # training and validation batches, all channels_last


@pytest.mark.parametrize("supported", [True, False])
def test_auto_on_a_gpu_follows_its_bf16_support(monkeypatch, supported):
    # no GPU here: torch.cuda's own answer is mocked; resolving touches nothing else on the device
    monkeypatch.setattr(torch.cuda, "is_bf16_supported", lambda *a, **k: supported)
    cuda = torch.device("cuda", 0)
    assert precision.resolve_precision("auto", cuda).name == ("bf16" if supported else "fp32")
    forced = precision.resolve_precision("bf16", cuda)
    assert forced.name == ("bf16" if supported else "fp32")
    assert (forced.note or "") == ("" if supported
                                   else "--precision bf16: this GPU has no native bf16 support; training in fp32")


def test_torchrun_processes_share_the_cores_of_their_machine(monkeypatch):
    monkeypatch.setattr(precision, "_physical_cores", lambda: 8)
    for name in ("WORLD_SIZE", "RANK", "LOCAL_WORLD_SIZE"):
        monkeypatch.delenv(name, raising=False)
    assert precision.default_num_threads() == 8
    monkeypatch.setenv("WORLD_SIZE", "8")  # 2 machines of 4 processes
    monkeypatch.setenv("RANK", "5")
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "4")
    assert precision.default_num_threads() == 2
    monkeypatch.setenv("LOCAL_WORLD_SIZE", "16")
    assert precision.default_num_threads() == 1
