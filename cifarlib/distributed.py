"""Data-parallel training with ``torch.distributed`` (launched by ``torchrun``).

``torchrun --nproc_per_node N -m cifarlib train -p ...`` starts N processes; each reads
``RANK``, ``WORLD_SIZE`` and ``LOCAL_RANK`` from its environment, joins one process group
(NCCL on GPUs, gloo on CPUs) and trains one replica of the model inside
:class:`~torch.nn.parallel.DistributedDataParallel`.

Conventions (chosen so that N processes train the same function as one):

* **The configured ``batch_size`` is the global batch.** Every rank draws the same seeded
  epoch permutation and augmentation as a one-process run and keeps its contiguous slice of
  each global batch (:func:`shard_batch`), so the N slices together are exactly the batch a
  single process would see. DDP averages gradients over ranks, and each rank's loss is a mean
  over its slice, so the update equals the one-process update for the same global batch.
  ``batch_size`` must therefore be divisible by the number of processes.
* **BatchNorm** is per rank by default (statistics over the local slice, as DDP does);
  ``sync_bn=True`` computes them over the global batch: timm's
  :func:`timm.layers.convert_sync_batchnorm` on GPUs (it keeps the activation and drop layers of
  timm's fused ``BatchNormAct2d``, which torch's converter silently drops), and
  :func:`convert_sync_batchnorm_cpu` under gloo (:class:`SyncBatchNorm2dCPU`, written here:
  torch's version refuses CPU tensors; :class:`SyncBatchNormAct2dCPU` for ``BatchNormAct2d``).
  Either conversion leaves the eval-mode function unchanged. With sync BN a 2-process fp32 run
  matches the 1-process run to float round-off.
* **Evaluation is sharded and reduced:** rank r evaluates the r-th contiguous share of the test
  set; sums of losses, hits and per-class counts are all-reduced before any ratio is taken.
* **Rank 0 alone writes** the checkpoint, the run record and the executed notebook; every rank
  reads the same checkpoint to resume.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist
import torch.nn as nn


@dataclass(frozen=True)
class DistEnv:
    """Where this process sits in the job (rank 0 of 1 when not launched by torchrun)."""

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    forced: bool = False  # a one-process job run through the DDP path (CIFARLIB_FORCE_DDP=1)

    @property
    def enabled(self) -> bool:
        return self.world_size > 1 or self.forced

    @property
    def is_main(self) -> bool:
        return self.rank == 0


FORCE_DDP_ENV = "CIFARLIB_FORCE_DDP"


def env_from_os() -> DistEnv:
    """The launch environment set by ``torchrun`` (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``).

    ``torchrun --nproc_per_node 1`` with ``CIFARLIB_FORCE_DDP=1`` runs one process through the
    whole DDP path (process group, DDP wrapper, sync BN, sharded evaluation): how
    ``benchmarks/gpu_check.sh`` checks NCCL on a machine with one GPU."""
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        if os.environ.get(FORCE_DDP_ENV) == "1" and "RANK" in os.environ:
            return DistEnv(0, 1, int(os.environ.get("LOCAL_RANK", "0")), forced=True)
        return DistEnv()
    return DistEnv(int(os.environ["RANK"]), world, int(os.environ.get("LOCAL_RANK", "0")))


def is_main_process() -> bool:
    """True on rank 0 and outside torchrun: the process that writes files."""
    return env_from_os().is_main


def device_for(env: DistEnv, requested: torch.device) -> torch.device:
    """Each rank's device: ``cuda:LOCAL_RANK`` on GPUs, the CPU otherwise."""
    if env.enabled and requested.type == "cuda":
        return torch.device("cuda", env.local_rank)
    return requested


def init(env: DistEnv, device: torch.device) -> None:
    """Join the process group once (NCCL for CUDA devices, gloo for the CPU)."""
    if not env.enabled or dist.is_initialized():
        return
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group("nccl" if device.type == "cuda" else "gloo",
                            rank=env.rank, world_size=env.world_size)


def check_batch(env: DistEnv, batch_size: int) -> None:
    if env.enabled and batch_size % env.world_size:
        raise ValueError(f"bad value for batch_size: {batch_size} is the global batch and must be divisible "
                         f"by the number of processes ({env.world_size}); pick a multiple of {env.world_size}")


def shard_batch(x: torch.Tensor, y: torch.Tensor, env: DistEnv) -> tuple[torch.Tensor, torch.Tensor]:
    """This rank's contiguous slice of a global batch (or of a whole split, for sharded evaluation)."""
    if not env.enabled:
        return x, y
    return x.tensor_split(env.world_size)[env.rank], y.tensor_split(env.world_size)[env.rank]



def all_reduce_sum(tensor: torch.Tensor, env: DistEnv) -> torch.Tensor:
    """Sum ``tensor`` over ranks in place (a no-op in one process); returns it."""
    if env.enabled:
        dist.all_reduce(tensor, op=dist.ReduceOp.SUM)
    return tensor


def barrier(env: DistEnv) -> None:
    if env.enabled:
        dist.barrier()


def broadcast_object(obj, env: DistEnv):
    """Rank 0's ``obj`` on every rank (e.g. an execution policy measured once)."""
    if not env.enabled:
        return obj
    box = [obj]
    dist.broadcast_object_list(box, src=0)
    return box[0]


def wrap_model(model: nn.Module, env: DistEnv, device: torch.device, sync_bn: bool) -> nn.Module:
    """Convert BatchNorm for global statistics when asked, then wrap in DDP."""
    if not env.enabled:
        return model
    if sync_bn:
        model = convert_sync_batchnorm(model, device)
    device_ids = [device.index] if device.type == "cuda" else None
    return nn.parallel.DistributedDataParallel(model, device_ids=device_ids)


def convert_sync_batchnorm(model: nn.Module, device: torch.device) -> nn.Module:
    """Every BatchNorm of ``model`` with global statistics, activations of fused norm-act layers
    kept: timm's converter for CUDA (``SyncBatchNorm`` / ``SyncBatchNormAct``), ours for CPU."""
    if device.type == "cuda":
        from timm.layers import convert_sync_batchnorm as timm_convert

        return timm_convert(model)
    return convert_sync_batchnorm_cpu(model)


def cleanup(env: DistEnv) -> None:
    if env.enabled and dist.is_initialized():
        dist.destroy_process_group()


# --------------------------------------------------------------------------- CPU sync BN


class _SyncBatchNormFunction(torch.autograd.Function):
    """Batch norm over the union of all ranks' batches, on CPU tensors (gloo).

    Forward, with ``S = sum x``, ``Q = sum x^2`` and ``n`` all-reduced over ranks:
    ``mu = S / n``, ``var = Q / n - mu^2``, ``x_hat = (x - mu) / sqrt(var + eps)``,
    ``y = gamma x_hat + beta``.
    Backward (each rank holds ``g = dL/dy`` for its own slice): with ``g_hat = gamma g`` and
    ``A = sum g_hat``, ``B = sum g_hat x_hat`` all-reduced,
    ``dL/dx = (g_hat - A / n - x_hat B / n) / sqrt(var + eps)``; ``dgamma``, ``dbeta`` are
    local sums, which DDP then averages over ranks like every other gradient.
    """

    @staticmethod
    def forward(ctx, x, weight, bias, eps):  # type: ignore[override]
        dims = (0, 2, 3)
        out_dtype, x = x.dtype, x.float()  # statistics in fp32 even under bf16 autocast
        stats = torch.stack([x.sum(dims), (x * x).sum(dims)]).double()
        count = torch.tensor([x.numel() / x.shape[1]], dtype=torch.float64)
        dist.all_reduce(stats)
        dist.all_reduce(count)
        n = count.item()
        mean = stats[0] / n
        var = (stats[1] / n - mean * mean).clamp(min=0)
        invstd = torch.rsqrt(var + eps)
        x_hat = (x - mean.float()[None, :, None, None]) * invstd.float()[None, :, None, None]
        ctx.save_for_backward(x_hat, weight, invstd.float())
        ctx.n, ctx.in_dtype = n, out_dtype
        y = x_hat * weight.float()[None, :, None, None] + bias.float()[None, :, None, None]
        return y.to(out_dtype), mean.float(), var.float(), count.float()

    @staticmethod
    def backward(ctx, grad_y, *_):  # type: ignore[override]
        x_hat, weight, invstd = ctx.saved_tensors
        dims = (0, 2, 3)
        grad_y = grad_y.float()
        weight = weight.float()
        grad_weight = (grad_y * x_hat).sum(dims)
        grad_bias = grad_y.sum(dims)
        g_hat = grad_y * weight[None, :, None, None]
        sums = torch.stack([g_hat.sum(dims), (g_hat * x_hat).sum(dims)])
        dist.all_reduce(sums)
        a, b = sums[0] / ctx.n, sums[1] / ctx.n
        grad_x = (g_hat - a[None, :, None, None] - x_hat * b[None, :, None, None]) * invstd[None, :, None, None]
        return grad_x.to(ctx.in_dtype), grad_weight, grad_bias, None


class SyncBatchNorm2dCPU(nn.BatchNorm2d):
    """``BatchNorm2d`` whose training statistics span every rank of the gloo process group.

    Running averages are updated as :class:`torch.nn.BatchNorm2d` does (momentum on the global
    mean and the unbiased global variance). In eval mode, or outside a process group, it is
    plain batch norm.
    """

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if not (self.training and dist.is_available() and dist.is_initialized()
                and dist.get_world_size() > 1):
            return super().forward(x)
        if self.weight is None:
            raise ValueError("SyncBatchNorm2dCPU needs affine=True")
        y, mean, var, count = _SyncBatchNormFunction.apply(x, self.weight, self.bias, self.eps)
        if self.track_running_stats:
            with torch.no_grad():
                self.num_batches_tracked += 1
                n = count.item()
                unbiased = var * n / max(n - 1, 1)
                momentum = self.momentum if self.momentum is not None else 1.0 / float(self.num_batches_tracked)
                self.running_mean.lerp_(mean.to(self.running_mean.dtype), momentum)
                self.running_var.lerp_(unbiased.to(self.running_var.dtype), momentum)
        return y


class SyncBatchNormAct2dCPU(SyncBatchNorm2dCPU):
    """:class:`SyncBatchNorm2dCPU` followed by the ``drop`` and ``act`` layers of the timm
    ``BatchNormAct2d`` it replaces (in that order, as ``BatchNormAct2d.forward`` applies them)."""

    def __init__(self, source: nn.BatchNorm2d) -> None:
        super().__init__(source.num_features, source.eps, source.momentum, source.affine,
                         source.track_running_stats)
        self.drop = source.drop
        self.act = source.act

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.act(self.drop(super().forward(x)))


def convert_sync_batchnorm_cpu(module: nn.Module) -> nn.Module:
    """Replace every ``BatchNorm2d`` (affine) by :class:`SyncBatchNorm2dCPU` and every timm
    ``BatchNormAct2d`` by :class:`SyncBatchNormAct2dCPU` (its activation and drop kept), weights
    and running statistics kept."""
    from timm.layers import BatchNormAct2d

    if isinstance(module, nn.BatchNorm2d) and not isinstance(module, SyncBatchNorm2dCPU) and module.affine:
        if isinstance(module, BatchNormAct2d):
            new: SyncBatchNorm2dCPU = SyncBatchNormAct2dCPU(module)
        elif type(module) is nn.BatchNorm2d:
            new = SyncBatchNorm2dCPU(module.num_features, module.eps, module.momentum, module.affine,
                                     module.track_running_stats)
        else:
            raise TypeError(f"sync_bn cannot convert {type(module).__name__} (a BatchNorm2d subclass with "
                            "its own forward): add its conversion to cifarlib.distributed or turn sync_bn off")
        new.load_state_dict(module.state_dict())
        new.train(module.training)
        return new
    for name, child in module.named_children():
        setattr(module, name, convert_sync_batchnorm_cpu(child))
    return module


__all__ = [
    "DistEnv", "env_from_os", "is_main_process", "device_for", "init", "check_batch", "shard_batch",
    "all_reduce_sum", "barrier", "broadcast_object", "wrap_model", "cleanup",
    "SyncBatchNorm2dCPU", "SyncBatchNormAct2dCPU", "convert_sync_batchnorm", "convert_sync_batchnorm_cpu",
]
