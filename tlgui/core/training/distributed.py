"""Training on several processes with ``torchrun`` (DistributedDataParallel).

``torchrun --standalone --nproc-per-node=N -m tlgui train ...`` starts N copies of the
same command with ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` set. :func:`from_env` reads them;
a single process (no torchrun) gets a :class:`Dist` with ``world == 1`` and nothing here
does anything. Under torchrun:

* gloo on the CPU, NCCL on GPUs (one GPU per process, ``cuda:LOCAL_RANK``);
* ``--batch-size`` stays the *global* batch: every process draws the same permutation and
  takes its share of each global batch, so a run means the same on 1 or N processes;
* validation is sharded and its sums (loss, correct, count) are reduced across processes;
* rank 0 alone writes the run folder; the others write nothing.
"""

from __future__ import annotations

import datetime as _dt
import os
import time
from dataclasses import dataclass

import torch

from tlgui.core.base.errors import ConfigError, DataError
from tlgui.core.models.device import cuda_problem

_TIMEOUT = _dt.timedelta(minutes=10)  # a rank that died mid-collective should not hang the rest forever
# how gloo and NCCL say that another process of the job went away mid-collective
_PEER_GONE = ("closed by peer", "reset by peer", "remote worker", "remote process exited")
PEER_GRACE_SECONDS = 60.0  # torchrun ends the survivors within its monitor interval (0.1 s) plus SIGTERM


@dataclass(frozen=True)
class Dist:
    rank: int = 0
    world: int = 1
    local_rank: int = 0
    local_world: int = 1

    @property
    def enabled(self) -> bool:
        return self.world > 1

    @property
    def main(self) -> bool:
        """Rank 0: the one process that writes files and reports progress."""
        return self.rank == 0

    def share(self, indices: torch.Tensor) -> torch.Tensor:
        """This process's part of one global batch (every ``world``-th index from ``rank``)."""
        return indices[self.rank :: self.world] if self.enabled else indices


SINGLE = Dist()


def from_env(environ=None) -> Dist:
    """The process's place in a torchrun job, or :data:`SINGLE` outside one."""
    env = os.environ if environ is None else environ
    try:
        world = int(env.get("WORLD_SIZE", "1"))
        if world <= 1:
            return SINGLE
        return Dist(int(env["RANK"]), world, int(env.get("LOCAL_RANK", "0")),
                    int(env.get("LOCAL_WORLD_SIZE", str(world))))
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"the torchrun environment is incomplete or invalid ({exc}); start with torchrun") from None


def device_for(dist: Dist, spec: str) -> torch.device:
    """The device of this process: ``cuda:LOCAL_RANK`` when GPUs are used, else the CPU."""
    if spec == "cpu" or (spec == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    available = torch.cuda.device_count()
    if available == 0:
        raise ConfigError("--device cuda: no CUDA GPU is available on this computer (use --device cpu or auto)")
    if available < dist.local_world:
        raise ConfigError(
            f"--device cuda with {dist.local_world} processes on this machine but only {available} GPU(s); "
            f"start torchrun with --nproc-per-node={available} or use --device cpu"
        )
    # each process checks its own card (a check on cuda:0 would put a context there for every process)
    problem = cuda_problem(dist.local_rank)
    if problem and spec == "auto":
        return torch.device("cpu")
    if problem:
        raise ConfigError(f"--device cuda: {problem}; use --device cpu")
    torch.cuda.set_device(dist.local_rank)
    return torch.device("cuda", dist.local_rank)


def check_sync_bn(device: torch.device, sync_bn: bool) -> None:
    if sync_bn and device.type != "cuda":
        raise ConfigError("--sync-bn needs GPUs (PyTorch synchronises BatchNorm only between CUDA "
                          "processes); leave it out on the CPU, where each process keeps its own statistics")


def start(dist: Dist, device: torch.device | None) -> None:
    """Join the process group (gloo on the CPU, NCCL on GPUs); ``device`` is None outside torchrun."""
    import torch.distributed as td

    if not dist.enabled or device is None or td.is_initialized():
        return
    if device.type == "cuda":
        td.init_process_group("nccl", rank=dist.rank, world_size=dist.world, timeout=_TIMEOUT, device_id=device)
    else:
        td.init_process_group("gloo", rank=dist.rank, world_size=dist.world, timeout=_TIMEOUT)


def stop(dist: Dist) -> None:
    import torch.distributed as td

    if dist.enabled and td.is_initialized():
        td.destroy_process_group()


def barrier(dist: Dist) -> None:
    import torch.distributed as td

    if dist.enabled and td.is_initialized():
        td.barrier()


def lost_a_peer(exc: BaseException) -> bool:
    """True when ``exc`` is this process noticing that another process of the job ended
    (it failed first and reports its own cause), not a failure of this process."""
    text = str(exc)
    return isinstance(exc, RuntimeError) and any(words in text for words in _PEER_GONE)


def outlive_a_failed_peer(seconds: float = PEER_GRACE_SECONDS) -> None:
    """Wait for torchrun to end this process after another one failed.

    torchrun names the first process to exit as the failure's root cause; a survivor that
    exited at once, with its own "connection closed" error, would often be named instead of
    the process that actually failed. Without torchrun (nobody ends us) this returns."""
    deadline = time.monotonic() + seconds
    while os.environ.get("TORCHELASTIC_RUN_ID") and time.monotonic() < deadline:
        time.sleep(0.5)


def sum_across(dist: Dist, values: list[float], device: torch.device) -> list[float]:
    """Element-wise sum of ``values`` over all processes (float64, one collective)."""
    if not dist.enabled:
        return list(values)
    import torch.distributed as td

    t = torch.tensor(values, dtype=torch.float64, device=device)
    td.all_reduce(t)
    return t.tolist()


def average_buffers(dist: Dist, model: torch.nn.Module) -> None:
    """Make BatchNorm's running statistics the same on every process (their mean).

    Each process updates its statistics on its own share of the batches (unless --sync-bn),
    so before validating or saving every process takes the average: validation and the
    saved model then use one set of statistics, and every rank ends with the same model.
    """
    if not dist.enabled:
        return
    import torch.distributed as td

    for buffer in model.buffers():
        if buffer.is_floating_point():
            td.all_reduce(buffer.data)
            buffer.data /= dist.world
        else:
            td.broadcast(buffer.data, src=0)


def check_same_data(dist: Dist, description: dict) -> None:
    """Every process must see the same data; otherwise each raises the same one-line error."""
    if not dist.enabled:
        return
    import torch.distributed as td

    seen: list = [None] * dist.world
    td.all_gather_object(seen, description)
    for rank, other in enumerate(seen):
        if other != seen[0]:
            differs = [k for k in seen[0] if seen[0].get(k) != other.get(k)]
            raise DataError(
                f"rank {rank} sees different data than rank 0 ({', '.join(differs)}: "
                f"{_short(other, differs)} against {_short(seen[0], differs)}); every process must read the same "
                "data (a shared folder, the same files)"
            )


def _short(description: dict, keys: list[str]) -> str:
    return ", ".join(f"{k}={description.get(k)}" for k in keys[:2])


def wrap(dist: Dist, model: torch.nn.Module, device: torch.device, sync_bn: bool) -> torch.nn.Module:
    """The model to train with: DistributedDataParallel under torchrun, else ``model`` itself."""
    if not dist.enabled:
        return model
    from torch.nn.parallel import DistributedDataParallel

    if sync_bn:
        check_sync_bn(device, sync_bn)
        model = torch.nn.SyncBatchNorm.convert_sync_batchnorm(model)
    ids = [device.index] if device.type == "cuda" else None
    return DistributedDataParallel(model, device_ids=ids)
