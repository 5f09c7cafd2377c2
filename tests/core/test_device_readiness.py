"""GPU readiness with CUDA mocked: a card missing from the build's arch list, or one whose first
operation fails, means the CPU with one plain line (``auto``) or a ConfigError (``cuda``)."""

import pytest
import torch

from tlgui.core.base.errors import ConfigError
from tlgui.core.models import device as dev
from tlgui.core.training import distributed

ARCHES = ["sm_50", "sm_60", "sm_70", "sm_75", "sm_80", "sm_86", "sm_90"]


@pytest.fixture
def fake_gpu(monkeypatch):
    """A CUDA GPU of capability 8.6 that works, adjustable per test."""
    gpu = {"capability": (8, 6), "arches": list(ARCHES), "op": lambda index: 16.0}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda index=0: "Fake GTX")
    monkeypatch.setattr(torch.cuda, "get_device_capability", lambda index=0: gpu["capability"])
    monkeypatch.setattr(torch.cuda, "get_arch_list", lambda: gpu["arches"])
    monkeypatch.setattr(dev, "_first_operation", lambda index: gpu["op"](index))
    dev.forget_checks()
    yield gpu
    dev.forget_checks()


def test_arch_list_matching():
    assert dev.arch_supports((8, 6), ["sm_80"])  # same major, newer minor: binary compatible
    assert not dev.arch_supports((8, 0), ["sm_86"])
    assert not dev.arch_supports((3, 5), ARCHES)
    assert dev.arch_supports((12, 0), ["sm_90", "compute_90"])  # PTX is compiled for newer cards
    assert not dev.arch_supports((8, 6), ["compute_90"])
    assert dev.arch_supports((9, 0), ["sm_90a"]) and dev.arch_supports((10, 0), ["sm_100"])
    assert not dev.arch_supports((10, 0), ["sm_120"])


def test_a_usable_gpu_is_used(fake_gpu):
    assert dev.cuda_problem() is None
    assert dev.resolve_device("auto").type == "cuda" and dev.resolve_device("cuda").type == "cuda"
    assert dev.fallback_note(torch.device("cpu")) is None
    assert dev.device_label(torch.device("cpu")) == "CPU (chosen)"


def test_a_card_too_old_for_the_build_falls_back_to_the_cpu_with_one_line(fake_gpu):
    fake_gpu["capability"] = (3, 5)
    ran = []
    fake_gpu["op"] = lambda index: ran.append(index) or 16.0
    assert dev.resolve_device("auto") == torch.device("cpu")
    assert not ran  # not even tried: its first real operation would fail
    note = dev.fallback_note(torch.device("cpu"))
    assert note == ("the GPU Fake GTX (compute capability 3.5) is not supported by this PyTorch build "
                    "(made for sm_50 to sm_90); a PyTorch build for older cards would use it; "
                    "training on the CPU instead")
    assert "\n" not in note
    assert dev.device_label(torch.device("cpu")) == (
        "CPU (GPU not usable: Fake GTX: compute capability 3.5 is not in this PyTorch build)")
    with pytest.raises(ConfigError, match=r"^--device cuda: the GPU Fake GTX \(compute capability 3.5\) is not "
                                          r"supported.*use --device auto or cpu"):
        dev.resolve_device("cuda")


def test_a_failing_first_operation_falls_back_to_the_cpu(fake_gpu):
    def boom(index):
        raise RuntimeError("CUDA error: no kernel image is available for execution on the device\nCUDA kernel "
                           "errors might be asynchronously reported")

    fake_gpu["op"] = boom
    assert dev.resolve_device("auto") == torch.device("cpu")
    assert dev.fallback_note(torch.device("cpu")) == (
        "the GPU Fake GTX failed a first test operation (RuntimeError: CUDA error: no kernel image is available "
        "for execution on the device); training on the CPU instead")
    assert "failed a test operation" in dev.device_label(torch.device("cpu"))
    with pytest.raises(ConfigError, match="failed a first test operation"):
        dev.resolve_device("cuda")


def test_the_check_runs_once_per_process(fake_gpu):
    calls = []
    fake_gpu["op"] = lambda index: calls.append(index) or 16.0
    for _ in range(3):
        dev.resolve_device("auto")
    assert calls == [0]


def test_no_gpu_and_an_explicit_cpu_are_named(monkeypatch):
    dev.forget_checks()
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert dev.resolve_device("auto") == torch.device("cpu") and dev.fallback_note(torch.device("cpu")) is None
    assert dev.device_label(torch.device("cpu")) in ("CPU (no CUDA GPU found)",
                                                     "CPU (this PyTorch is built without CUDA)")
    with pytest.raises(ConfigError, match="no CUDA GPU is available"):
        dev.resolve_device("cuda")


def test_torchrun_processes_check_their_own_card(fake_gpu, monkeypatch):
    d = distributed.from_env({"WORLD_SIZE": "2", "RANK": "1", "LOCAL_RANK": "1", "LOCAL_WORLD_SIZE": "2"})
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    checked = []
    fake_gpu["op"] = lambda index: checked.append(index) or 16.0
    fake_gpu["capability"] = (3, 5)
    assert distributed.device_for(d, "auto") == torch.device("cpu")
    with pytest.raises(ConfigError, match="compute capability 3.5"):
        distributed.device_for(d, "cuda")
    fake_gpu["capability"] = (9, 0)
    dev.forget_checks()
    monkeypatch.setattr(torch.cuda, "set_device", lambda index: None)
    assert distributed.device_for(d, "auto") == torch.device("cuda", 1) and checked == [1]


def test_a_training_run_says_why_it_trains_on_the_cpu(fake_gpu, tmp_path, monkeypatch):
    from tlgui.core.base.config import TrainConfig
    from tlgui.core.base.events import Message, RunStarted
    from tlgui.core.training.loop import train

    fake_gpu["capability"] = (3, 5)
    assert dev.resolve_device("auto").type == "cpu"  # the check's verdict stays for the process
    # the rest of the run must not believe in the fake GPU (the optimizer asks torch.cuda too)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    events = []
    config = TrainConfig(data="demo:target", model="smallcnn", weights="none", epochs=1, device="auto",
                         out=str(tmp_path / "run"))
    result = train(config, events.append)
    assert result.status == "completed", result.message
    notes = [e.text for e in events if isinstance(e, Message) and "training on the CPU instead" in e.text]
    started = next(e for e in events if isinstance(e, RunStarted))
    assert len(notes) == 1 and "compute capability 3.5" in notes[0]
    assert started.device.startswith("CPU (GPU not usable: ")
    assert notes[0] in result.summary["messages"]
