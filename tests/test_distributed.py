"""Data-parallel training under gloo on the CPU: 2 processes train the function 1 process does.

Each test spawns real processes with the environment torchrun would give them (RANK,
WORLD_SIZE, LOCAL_RANK, MASTER_ADDR on the loopback, MASTER_PORT).
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest
import torch
import torch.multiprocessing as mp

from cifarlib import distributed
from cifarlib.data import TensorDataset
from cifarlib.engine import TrainConfig, train

import helpers

# fp32, same global batch: the only differences are float summation orders.
LOSS_TOL = 1e-4
WEIGHT_TOL = 1e-4


def tiny_data() -> TensorDataset:
    return helpers.tiny_data(n_per_class=16, noise=30, test_every=2)


def config(**kw) -> TrainConfig:
    base = dict(model="eca_resnet8", dataset="unused", epochs=2, batch_size=16, eval_batch_size=10,
                lr=0.05, label_smoothing=0.0, amp="off", channels_last=False, seed=0, device="cpu",
                sync_bn=True)
    return TrainConfig(**{**base, **kw})


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _worker(rank: int, world: int, port: int, out: str, cfg: dict, checkpoint: str | None,
            stop_after: int | None) -> None:
    os.environ.update(RANK=str(rank), WORLD_SIZE=str(world), LOCAL_RANK=str(rank),
                      MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    env = distributed.env_from_os()
    try:
        if stop_after is not None:
            # Simulate a crash of the job: train `stop_after` epochs, then die without finishing.
            train(TrainConfig(**cfg), data=tiny_data(), checkpoint=checkpoint, progress=False,
                  on_epoch=lambda row: _maybe_stop(row, stop_after))
        result = train(TrainConfig(**cfg), data=tiny_data(), checkpoint=checkpoint, progress=False)
        if env.is_main:
            torch.save({"history": result.history, "state": result.model.state_dict(),
                        "final": result.final.top1, "world": result.world_size}, out)
    except _Stop:
        pass
    finally:
        distributed.cleanup(env)


class _Stop(Exception):
    pass


def _maybe_stop(row: dict, stop_after: int) -> None:
    if row["epoch"] >= stop_after:
        raise _Stop


def run_processes(world: int, tmp: Path, name: str, cfg: TrainConfig, checkpoint: Path | None = None,
                  stop_after: int | None = None) -> dict:
    out = tmp / f"{name}.pt"
    args = (world, free_port(), str(out), cfg.__dict__, str(checkpoint) if checkpoint else None, stop_after)
    if world == 1:
        saved = {k: os.environ.pop(k, None) for k in ("RANK", "WORLD_SIZE", "LOCAL_RANK")}
        try:
            result = train(cfg, data=tiny_data(), checkpoint=checkpoint, progress=False)
        finally:
            os.environ.update({k: v for k, v in saved.items() if v is not None})
        return {"history": result.history, "state": result.model.state_dict(), "final": result.final.top1,
                "world": result.world_size}
    mp.start_processes(_worker, args=args, nprocs=world, join=True, start_method="spawn")
    return torch.load(out, weights_only=False)


def max_weight_diff(a: dict, b: dict) -> float:
    return max((a[k].float() - b[k].float()).abs().max().item() for k in a if a[k].dtype.is_floating_point)


@pytest.mark.slow
def test_two_gloo_processes_match_one_process_with_sync_bn(tmp_path: Path) -> None:
    cfg = config()
    one = run_processes(1, tmp_path, "one", cfg)
    two = run_processes(2, tmp_path, "two", cfg)
    assert two["world"] == 2 and one["world"] == 1
    for a, b in zip(one["history"], two["history"]):
        assert abs(a["train_loss"] - b["train_loss"]) < LOSS_TOL
        assert abs(a["test_loss"] - b["test_loss"]) < LOSS_TOL
        assert a["test_top1"] == pytest.approx(b["test_top1"])
    assert max_weight_diff(one["state"], two["state"]) < WEIGHT_TOL


@pytest.mark.slow
def test_two_process_run_resumes_after_a_crash(tmp_path: Path) -> None:
    cfg = config(epochs=3)
    whole = run_processes(2, tmp_path, "whole", cfg, checkpoint=tmp_path / "whole.ckpt")
    ckpt = tmp_path / "crash.ckpt"
    with pytest.raises(FileNotFoundError):  # the crashed job wrote no result
        run_processes(2, tmp_path, "crashed", cfg, checkpoint=ckpt, stop_after=1)
    assert ckpt.exists()
    resumed = run_processes(2, tmp_path, "resumed", cfg, checkpoint=ckpt)
    assert [r["train_loss"] for r in resumed["history"]] == [r["train_loss"] for r in whole["history"]]
    assert max_weight_diff(whole["state"], resumed["state"]) == 0.0


def test_global_batch_must_divide_across_processes() -> None:
    with pytest.raises(ValueError, match="divisible by the number of processes"):
        distributed.check_batch(distributed.DistEnv(0, 3, 0), 16)


def test_shard_batch_slices_are_disjoint_and_cover_the_batch() -> None:
    x, y = torch.arange(12.0).view(12, 1), torch.arange(12)
    parts = [distributed.shard_batch(x, y, distributed.DistEnv(r, 3, r))[1] for r in range(3)]
    assert torch.equal(torch.cat(parts), y)


def _activation_count(model: torch.nn.Module) -> int:
    """Activation modules reachable in ``model`` (what a BatchNormAct2d conversion must keep)."""
    acts = (torch.nn.ReLU, torch.nn.ReLU6, torch.nn.SiLU, torch.nn.GELU, torch.nn.Hardswish, torch.nn.Hardsigmoid,
            torch.nn.LeakyReLU, torch.nn.Mish, torch.nn.Sigmoid, torch.nn.Tanh)
    return sum(isinstance(m, acts) for m in model.modules())


@pytest.mark.parametrize("name", __import__("cifarlib.models", fromlist=["list_models"]).list_models())
def test_sync_bn_conversion_keeps_the_eval_function_of_every_model(name: str) -> None:
    """Both converters (timm's for CUDA, ours for gloo) keep every activation of timm's fused
    BatchNormAct2d and leave the eval-mode outputs unchanged."""
    import copy

    from timm.layers import BatchNormAct2d

    from cifarlib.models import create_model

    torch.manual_seed(0)
    model = create_model(name, num_classes=10).eval()
    for m in model.modules():  # non-trivial running statistics, so a lost BN would show
        if isinstance(m, torch.nn.BatchNorm2d):
            m.running_mean.uniform_(-0.5, 0.5)
            m.running_var.uniform_(0.5, 2.0)
    x = torch.randn(2, 3, 32, 32)
    with torch.no_grad():
        reference = model(x)
    fused = sum(isinstance(m, BatchNormAct2d) for m in model.modules())
    for device in ("cpu", "cuda"):  # the CUDA converter is checked on the CPU in eval mode
        converted = distributed.convert_sync_batchnorm(copy.deepcopy(model), torch.device(device)).eval()
        assert not any(isinstance(m, BatchNormAct2d) for m in converted.modules()), device
        assert _activation_count(converted) == _activation_count(model), (device, fused)
        with torch.no_grad():
            out = converted(x)
        assert torch.equal(out, reference), (device, (out - reference).abs().max().item())
