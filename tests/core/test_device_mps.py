"""Apple's GPU (MPS) with the backend mocked, as the CUDA checks are (issue 28, A.8): ``auto`` takes
it where no CUDA GPU is usable, the run's device line and ``tlgui doctor`` say so and say whether
operations MPS lacks fall back to the CPU."""

from __future__ import annotations

import json
import types

import pytest
import torch

from tlgui.cli import main as cli_main
from tlgui.core.base.config import TrainConfig
from tlgui.core.base.errors import ConfigError
from tlgui.core.models import device as dev
from tlgui.torch_first import set_torch_environment


@pytest.fixture
def a_mac(monkeypatch):
    """No CUDA, and an MPS backend that says it is available."""
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends, "mps", types.SimpleNamespace(is_available=lambda: True), raising=False)
    monkeypatch.setenv("PYTORCH_ENABLE_MPS_FALLBACK", "1")
    dev.forget_checks()
    yield
    dev.forget_checks()


def test_auto_uses_apples_gpu_and_says_that_missing_operations_run_on_the_cpu(a_mac):
    assert dev.resolve_device("auto") == torch.device("mps")
    assert dev.resolve_device("mps") == torch.device("mps")
    assert dev.resolve_device("cpu") == torch.device("cpu")
    assert dev.device_label(torch.device("mps")) == "GPU: Apple GPU, MPS (operations it lacks run on the CPU)"
    with pytest.raises(ConfigError, match="--device cuda: no CUDA GPU"):
        dev.resolve_device("cuda")


def test_without_the_fallback_the_label_says_what_happens(a_mac, monkeypatch):
    monkeypatch.delenv("PYTORCH_ENABLE_MPS_FALLBACK")
    assert "PYTORCH_ENABLE_MPS_FALLBACK is not 1" in dev.device_label(torch.device("mps"))


def test_a_usable_cuda_gpu_comes_before_mps(a_mac, monkeypatch):
    monkeypatch.setattr(dev, "cuda_problem", lambda index=0: None)
    assert dev.resolve_device("auto") == torch.device("cuda")


def test_without_mps_auto_is_the_cpu_and_mps_is_refused_in_one_line(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setattr(torch.backends, "mps", types.SimpleNamespace(is_available=lambda: False), raising=False)
    assert dev.resolve_device("auto") == torch.device("cpu")
    with pytest.raises(ConfigError) as caught:
        dev.resolve_device("mps")
    assert str(caught.value).startswith("--device mps: Apple's GPU (MPS) is not available here")
    assert "\n" not in str(caught.value)
    broken = types.SimpleNamespace(is_available=lambda: 1 / 0)  # a broken Metal setup
    monkeypatch.setattr(torch.backends, "mps", broken)
    assert not dev.mps_available()


def test_mps_is_a_device_a_config_accepts():
    TrainConfig(data="demo:target", model="smallcnn", device="mps").validate()


def test_doctor_says_auto_uses_mps_and_why(a_mac, capsys, tmp_path, monkeypatch):
    monkeypatch.setenv("TLGUI_HOME", str(tmp_path))
    assert cli_main(["doctor", "--json"]) == 0
    device = json.loads(capsys.readouterr().out)["device"]
    assert device["auto"] == "mps" and device["mps"] == "available"
    assert device["label"].startswith("GPU: Apple GPU, MPS")
    assert "operations MPS lacks run on the CPU (PYTORCH_ENABLE_MPS_FALLBACK=1)" in device["why"]


def test_the_mps_fallback_is_set_on_macos_before_torch_loads_and_a_users_choice_kept():
    env: dict[str, str] = {}
    set_torch_environment(env, "darwin")
    assert env == {"PYTORCH_ENABLE_MPS_FALLBACK": "1"}
    env = {"PYTORCH_ENABLE_MPS_FALLBACK": "0"}
    set_torch_environment(env, "darwin")
    assert env["PYTORCH_ENABLE_MPS_FALLBACK"] == "0"
    env = {}
    set_torch_environment(env, "linux")
    set_torch_environment(env, "win32")
    assert env == {}
