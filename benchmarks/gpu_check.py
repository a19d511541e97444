"""Prove the GPU path in one short run (see gpu_check.sh): every model trains a step under bf16
autocast and under fp16 + GradScaler, resnet20's training images/s with the data on the
device (eager and compiled), a short papermill run on the CIFAR-10 JPEGs, and, with several
GPUs, a torchrun DDP smoke run and its images/s scaling.

    python benchmarks/gpu_check.py --out OUT [--device cuda|cpu]

``--device cpu`` is a dry run of the same code at tiny sizes (batch 8, 1 epoch on a 2k subset),
for machines without a GPU. Results: ``OUT/gpu_check.json`` and ``OUT/gpu_check.txt``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cifarlib.data import offline_dataset_spec  # noqa: E402
from cifarlib.devices import device_name  # noqa: E402
from cifarlib.models import create_model, list_models  # noqa: E402


def log(out: Path, text: str) -> None:
    print(text, flush=True)
    with open(out / "gpu_check.txt", "a") as f:
        f.write(text + "\n")


def one_step(name: str, device: torch.device, dtype: torch.dtype, batch: int) -> float:
    model = create_model(name, num_classes=100).to(device).to(memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    x = torch.randn(batch, 3, 32, 32, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 100, (batch,), device=device)
    with torch.autocast(device.type, dtype=dtype):
        loss = F.cross_entropy(model(x).float(), y)
    scaler.scale(loss).backward()
    scaler.step(opt)
    scaler.update()
    value = loss.item()
    if not torch.isfinite(torch.tensor(value)):
        raise FloatingPointError(f"loss {value}")
    return value


def images_per_s(device: torch.device, batch: int, steps: int, compiled: bool) -> float:
    model = create_model("resnet20", num_classes=100).to(device).to(memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    forward = torch.compile(model) if compiled else model
    dtype = torch.bfloat16
    x = torch.randn(batch, 3, 32, 32, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 100, (batch,), device=device)

    def step() -> None:
        with torch.autocast(device.type, dtype=dtype):
            loss = F.cross_entropy(forward(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(3):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    return batch * steps / (time.perf_counter() - t0)


def save(out: Path, results: dict) -> None:
    """Write what is known so far (a run cut by its time limit still leaves its results)."""
    (out / "gpu_check.json").write_text(json.dumps(results, indent=1))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "gpu_check_out")))
    parser.add_argument("--device", default="cuda")
    args = parser.parse_args()
    out = args.out.resolve()
    out.mkdir(parents=True, exist_ok=True)
    (out / "gpu_check.txt").unlink(missing_ok=True)
    device = torch.device(args.device)
    dry = device.type != "cuda"
    if not dry and not torch.cuda.is_available():
        raise SystemExit("no CUDA device visible: run with --device cpu for a dry run")
    results: dict = {"device": device_name(device), "dry_run": dry, "torch": torch.__version__,
                     "gpus": torch.cuda.device_count() if not dry else 0}
    log(out, f"# gpu_check on {results['device']} (torch {torch.__version__}){' -- CPU DRY RUN' if dry else ''}")

    batch = 8 if dry else 64
    steps = {}
    for name in list_models():
        row = {}
        for label, dtype in (("bf16", torch.bfloat16), ("fp16", torch.float16)):
            try:
                row[label] = round(one_step(name, device, dtype, batch), 4)
            except Exception as err:  # report, keep going
                row[label] = f"{type(err).__name__}: {str(err)[:120]}"
        steps[name] = row
        log(out, f"step {name:<24} bf16 loss {row['bf16']}  fp16 loss {row['fp16']}")
    results["one_step"] = steps
    save(out, results)

    tput = {}
    for compiled in (False, True):
        key = "compiled" if compiled else "eager"
        if compiled and dry:
            tput[key] = "skipped in the CPU dry run (inductor needs minutes of C++ compilation)"
            log(out, f"resnet20 compiled: {tput[key]}")
            continue
        try:
            tput[key] = round(images_per_s(device, 32 if dry else 512, 3 if dry else 50, compiled), 1)
        except Exception as err:
            tput[key] = f"{type(err).__name__}: {str(err)[:200]}"
        log(out, f"resnet20 training images/s, data on device, batch {32 if dry else 512}, {key}: {tput[key]}")
    results["resnet20_train_images_per_s"] = tput
    save(out, results)

    env = dict(os.environ, PYTHONPATH=str(REPO))
    params = ["-p", "model", "resnet20", "-p", "dataset", offline_dataset_spec(), "-p", "epochs", "1" if dry else "5",
              "-p", "batch_size", "512", "-p", "lr", "0.4", "-p", "device", args.device, "-p", "experiment", "gpucheck"]
    if dry:
        params += ["-p", "train_subset", "2000", "-p", "test_subset", "1000"]
    dirs = ["--results-dir", str(out / "results"), "--checkpoint-dir", str(out / "ckpt"), "--runs-dir", str(out / "runs")]
    t0 = time.perf_counter()
    run = subprocess.run([sys.executable, "-m", "cifarlib", "train", *params, *dirs], capture_output=True,
                         text=True, env=env, cwd=REPO)
    wall = time.perf_counter() - t0
    record = next((json.loads(p.read_text()) for p in (out / "results").rglob("*.json")), None)
    results["papermill_run"] = {"returncode": run.returncode, "wall_s": round(wall, 1),
                                "test_top1": record["final"]["test_top1"] if record else None,
                                "train_images_per_s": record["throughput"]["train_images_per_s"] if record else None,
                                "stderr_tail": run.stderr[-800:] if run.returncode else ""}
    log(out, f"papermill resnet20 run: rc {run.returncode}, wall {wall:.0f} s, "
             f"top-1 {results['papermill_run']['test_top1']}")

    n = results["gpus"]
    if n >= 2:  # DDP smoke run and scaling of one run over 1..N GPUs
        scaling = {}
        for procs in sorted({1, 2, n}):
            ddp = subprocess.run(
                [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(procs), "-m", "cifarlib",
                 "train", *params, "-p", "epochs", "1", "-p", "variant", f"ddp{procs}", "-p", "sync_bn", "true", *dirs],
                capture_output=True, text=True, env=env, cwd=REPO)
            rec = next((json.loads(p.read_text()) for p in (out / "results").rglob(f"*ddp{procs}*.json")), None)
            scaling[procs] = rec["throughput"]["train_images_per_s"] if rec else f"rc {ddp.returncode}: {ddp.stderr[-300:]}"
            log(out, f"torchrun {procs} GPU(s): train images/s {scaling[procs]}")
        results["ddp_scaling"] = scaling
    save(out, results)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
