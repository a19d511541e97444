"""The steps of ``benchmarks/gpu_check.sh``, one per invocation (the shell script runs each in
its own process group under ``timeout -k`` and keeps going when one fails or times out).

    python benchmarks/gpu_check.py STEP --out OUT [--device cuda|cpu] [--quick]

Every step appends JSON lines to ``OUT/results.jsonl`` as soon as it has a result, so a crash or
a time-out keeps what finished. Steps:

* ``env``: device, torch, CUDA, cuDNN, driver and ``nvidia-smi``; writes the data set the runs
  use (the CIFAR-10 JPEG zip when present, else 50,000 generated CIFAR-100 images);
* ``one_step``: one bf16 and one fp16 + GradScaler training step of every registered model,
  with its step time (batch 128; calibrates ``benchmarks/estimate_full.py``);
* ``throughput``: resnet20 training images/s at batch 128 and 512, eager / compile /
  compile reduce-overhead (CUDA graphs);
* ``packed``: 1, 2, 4 and 8 resnet20 trainings at once on one GPU: total images/s;
* ``resume``: a papermill run of 5 epochs killed after epoch 2 and run again: it must resume
  and finish;
* ``ddp``: DDP through torchrun on one GPU (NCCL forced, ``sync_bn``), and on 2..N GPUs when
  present;
* ``fp16_ema_mixup``: a papermill run under fp16 + GradScaler with EMA and mixup/CutMix;
* ``summary``: the table of every line so far (``OUT/summary.txt``).

``--device cpu --quick`` runs every step at toy size on a CPU (where fp16 cannot run, bf16
stands in; ``torch.compile`` uses its ``eager`` backend; DDP runs under gloo), so CI keeps the
script alive. Those numbers prove the code path, not any speed.
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from cifarlib.data import cifar_folder, offline_zip, write_generated_cifar100  # noqa: E402
from cifarlib.devices import device_name  # noqa: E402
from cifarlib.models import create_model, list_models  # noqa: E402


class Check:
    """Where results go, and the sizes of this run (full on a GPU, toy with ``--quick``)."""

    def __init__(self, out: Path, device: str, quick: bool) -> None:
        self.out, self.device, self.quick = out, torch.device(device), quick
        self.batches = (4,) if quick else (128, 512)
        self.step_batch = 2 if quick else 128

    def emit(self, step: str, **row: Any) -> None:
        row = {"step": step, **row}
        print(json.dumps(row), flush=True)
        with open(self.out / "results.jsonl", "a") as f:
            f.write(json.dumps(row) + "\n")

    def env(self) -> dict[str, str]:
        return dict(os.environ, PYTHONPATH=str(REPO) + os.pathsep + os.environ.get("PYTHONPATH", ""))

    def dataset(self) -> list[str]:
        saved = json.loads((self.out / "dataset.json").read_text())
        return ["-p", "dataset", saved["dataset"], "-p", "data_root", saved["data_root"]]

    def dirs(self, name: str) -> list[str]:
        base = self.out / name
        return ["--results-dir", str(base / "results"), "--checkpoint-dir", str(base / "ckpt"),
                "--runs-dir", str(base / "runs")]

    def run_params(self, epochs: int) -> list[str]:
        sizes = ["-p", "train_subset", "400", "-p", "test_subset", "100", "-p", "batch_size", "20",
                 "-p", "eval_batch_size", "50", "-p", "model", "eca_resnet8"] if self.quick else \
                ["-p", "batch_size", "512", "-p", "lr", "0.4", "-p", "model", "resnet20"]
        amp = "bf16" if self.device.type == "cuda" else "off"  # pinned: no autotune inside the check
        return [*self.dataset(), *sizes, "-p", "epochs", str(epochs), "-p", "device", self.device.type,
                "-p", "amp", amp, "-p", "channels_last", "on", "-p", "experiment", "gpucheck"]


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


# --------------------------------------------------------------------------- steps


def step_env(c: Check) -> None:
    info: dict[str, Any] = {"device": device_name(c.device), "torch": torch.__version__,
                            "cuda": torch.version.cuda, "quick": c.quick, "gpus": torch.cuda.device_count()}
    if torch.cuda.is_available():
        info["cudnn"] = torch.backends.cudnn.version()
        try:
            smi = subprocess.run(["nvidia-smi", "--query-gpu=name,driver_version,memory.total",
                                  "--format=csv,noheader"], capture_output=True, text=True, timeout=30)
            info["nvidia_smi"] = smi.stdout.strip()
            (c.out / "nvidia-smi.txt").write_text(subprocess.run(["nvidia-smi"], capture_output=True, text=True,
                                                                 timeout=30).stdout)
        except (OSError, subprocess.TimeoutExpired) as err:
            info["nvidia_smi"] = f"unavailable: {err}"
    zip_path = offline_zip()
    if zip_path.exists() and not c.quick:
        data = {"dataset": f"folder:{zip_path}", "data_root": "data", "source": "CIFAR-10 JPEG zip"}
    else:
        root = c.out / "data"
        per_class, test_per_class = (4, 2) if c.quick else (500, 100)  # 50,000 / 10,000 images
        t0 = time.perf_counter()
        if not (cifar_folder(root, "cifar100") / "train").exists():
            write_generated_cifar100(root, train_per_class=per_class, test_per_class=test_per_class)
        data = {"dataset": "cifar100", "data_root": str(root),
                "source": f"generated CIFAR-100, {100 * per_class} train images ({time.perf_counter() - t0:.0f} s)"}
    (c.out / "dataset.json").write_text(json.dumps(data))
    c.emit("env", ok=True, **info, data=data["source"])


def train_step_time(name: str, device: torch.device, dtype: torch.dtype, batch: int, steps: int) -> tuple[float, float]:
    """(loss, seconds per step over ``steps`` back-to-back steps after one warm-up step; with
    ``steps=0`` the time of that one step)."""
    model = create_model(name, num_classes=100).to(device).to(memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9, fused=device.type == "cuda" or None)
    scaler = torch.amp.GradScaler(device.type, enabled=dtype == torch.float16)
    x = torch.randn(batch, 3, 32, 32, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 100, (batch,), device=device)

    def step() -> torch.Tensor:
        with torch.autocast(device.type, dtype=dtype):
            loss = F.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        scaler.scale(loss).backward()
        scaler.step(opt)
        scaler.update()
        return loss

    t0 = time.perf_counter()
    loss = step()
    _sync(device)
    if steps:
        t0 = time.perf_counter()
        for _ in range(steps):
            step()
        _sync(device)
    value = float(loss)
    if value != value or abs(value) == float("inf"):
        raise FloatingPointError(f"loss {value}")
    return value, (time.perf_counter() - t0) / max(steps, 1)


def step_one_step(c: Check) -> None:
    precisions = [("bf16", torch.bfloat16), ("fp16", torch.float16)]
    if c.device.type == "cpu":
        precisions = [("bf16", torch.bfloat16)]  # fp16 + GradScaler needs CUDA
    for name in list_models():
        for label, dtype in precisions:
            try:
                loss, seconds = train_step_time(name, c.device, dtype, c.step_batch, 0 if c.quick else 10)
                c.emit("one_step", ok=True, model=name, precision=label, batch=c.step_batch,
                       loss=round(loss, 4), seconds_per_step=seconds)
            except Exception as err:  # report, keep going
                c.emit("one_step", ok=False, model=name, precision=label, error=f"{type(err).__name__}: {err}"[:300])


def images_per_s(device: torch.device, batch: int, steps: int, mode: str, quick: bool) -> float:
    model = create_model("resnet20", num_classes=100).to(device).to(memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True,
                          fused=device.type == "cuda" or None)
    if mode == "eager":
        forward = model
    elif device.type == "cpu" and quick:  # the dynamo path without minutes of C++ codegen
        forward = torch.compile(model, backend="eager")
    else:
        forward = torch.compile(model, mode=mode)
    x = torch.randn(batch, 3, 32, 32, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 100, (batch,), device=device)
    dtype = torch.bfloat16

    def step() -> None:
        with torch.autocast(device.type, dtype=dtype):
            loss = F.cross_entropy(forward(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(2 if quick else 5):
        step()
    _sync(device)
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    _sync(device)
    return batch * steps / (time.perf_counter() - t0)


def step_throughput(c: Check) -> None:
    for batch in c.batches:
        for mode in ("eager", "default", "reduce-overhead"):
            try:
                rate = images_per_s(c.device, batch, 2 if c.quick else 50, mode, c.quick)
                c.emit("throughput", ok=True, model="resnet20", batch=batch, mode=mode, images_per_s=round(rate, 1),
                       compiler="none" if mode == "eager" else
                       "dynamo, eager backend" if c.quick and c.device.type == "cpu" else "inductor")
            except Exception as err:
                c.emit("throughput", ok=False, batch=batch, mode=mode, error=f"{type(err).__name__}: {err}"[:300])


def step_packed_worker(c: Check, steps: int, batch: int) -> None:
    """One of K packed processes: times ``steps`` resnet20 steps; prints start, end, images."""
    device = c.device
    model = create_model("resnet20", num_classes=100).to(device).to(memory_format=torch.channels_last).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, fused=device.type == "cuda" or None)
    x = torch.randn(batch, 3, 32, 32, device=device).contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 100, (batch,), device=device)
    for i in range(steps + 3):
        if i == 3:
            _sync(device)
            t0 = time.time()
        with torch.autocast(device.type, dtype=torch.bfloat16):
            loss = F.cross_entropy(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
    _sync(device)
    print(json.dumps({"start": t0, "end": time.time(), "images": steps * batch}), flush=True)


def step_packed(c: Check) -> None:
    batch, steps = (4, 3) if c.quick else (128, 200)
    for k in ((1, 2) if c.quick else (1, 2, 4, 8)):
        env = c.env()
        if c.device.type == "cpu":
            env["OMP_NUM_THREADS"] = "1"
        cmd = [sys.executable, __file__, "packed_worker", "--out", str(c.out), "--device", c.device.type,
               "--steps", str(steps), "--batch", str(batch)] + (["--quick"] if c.quick else [])
        procs = [subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
                 for _ in range(k)]
        outs = [p.communicate() for p in procs]
        rows = []
        for p, (stdout, stderr) in zip(procs, outs):
            if p.returncode == 0:
                rows.append(json.loads(stdout.strip().splitlines()[-1]))
        if len(rows) < k:
            errors = [e[-300:] for p, (_, e) in zip(procs, outs) if p.returncode]
            c.emit("packed", ok=False, runs=k, error="; ".join(errors)[:600])
            continue
        span = max(r["end"] for r in rows) - min(r["start"] for r in rows)
        c.emit("packed", ok=True, runs=k, batch=batch, total_images_per_s=round(sum(r["images"] for r in rows) / span, 1))


def _record(base: Path) -> dict | None:
    found = [p for p in (base / "results").rglob("*.json") if not p.name.startswith(".")]
    return json.loads(found[0].read_text()) if found else None


def _checkpoint_epoch(base: Path) -> int:
    for path in (base / "ckpt").rglob("*.pt"):
        if path.name.startswith("."):
            continue
        try:
            return int(torch.load(path, map_location="cpu", weights_only=False)["epoch"])
        except Exception:  # being replaced right now
            return 0
    return 0


def process_tree(pid: int) -> list[int]:
    """``pid`` and all its descendants (Linux ``/proc``), e.g. papermill and its kernel, which
    runs in a session of its own."""
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    tree, todo = [], [pid]
    while todo:
        current = todo.pop()
        tree.append(current)
        todo += children.get(current, [])
    return tree


def step_resume(c: Check) -> None:
    params = [*c.run_params(5), "-p", "overwrite", "True", "-p", "variant", "resume"]
    cmd = [sys.executable, "-m", "cifarlib", "train", *params, *c.dirs("resume")]
    base = c.out / "resume"
    t0 = time.perf_counter()
    first = subprocess.Popen(cmd, cwd=REPO, env=c.env(), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                             text=True)
    while first.poll() is None and _checkpoint_epoch(base) < 2:
        time.sleep(0.05)
    killed_at = _checkpoint_epoch(base)
    if first.poll() is None:
        for pid in process_tree(first.pid):  # papermill and its kernel, as a preemption would
            try:
                os.kill(pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
    first.wait()
    if killed_at < 2:
        c.emit("resume", ok=False, error=f"the first run ended (rc {first.returncode}) before epoch 2: "
                                          f"{(first.stderr.read() or '')[-400:]}")
        return
    resumed = cmd[:]
    resumed[resumed.index("overwrite") + 1] = "False"  # keep the checkpoint this time
    second = subprocess.run(resumed, cwd=REPO, env=c.env(), capture_output=True, text=True)
    record = _record(base)
    ok = second.returncode == 0 and record is not None and record.get("resumed_from_epoch", 0) >= 2 \
        and len(record["history"]) == 5
    c.emit("resume", ok=ok, killed_after_epoch=killed_at, rc=second.returncode,
           resumed_from_epoch=record.get("resumed_from_epoch") if record else None,
           test_top1=record["final"]["test_top1"] if record else None, wall_s=round(time.perf_counter() - t0, 1),
           error="" if ok else second.stderr[-400:])


def step_ddp(c: Check) -> None:
    gpus = torch.cuda.device_count() if c.device.type == "cuda" else 0
    sizes = [1, *range(2, gpus + 1)] if gpus else [1, 2]  # CPU: gloo, 1 forced and 2 processes
    for procs in sizes:
        env = c.env()
        env["CIFARLIB_FORCE_DDP"] = "1" if procs == 1 else "0"
        if c.device.type == "cpu":
            env["OMP_NUM_THREADS"] = "1"
        params = [*c.run_params(1), "-p", "sync_bn", "True", "-p", "overwrite", "True", "-p", "variant", f"ddp{procs}"]
        cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node", str(procs),
               "-m", "cifarlib", "train", *params, *c.dirs(f"ddp{procs}")]
        run = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True)
        record = _record(c.out / f"ddp{procs}")
        ok = run.returncode == 0 and record is not None
        c.emit("ddp", ok=ok, processes=procs, backend="nccl" if gpus else "gloo", rc=run.returncode,
               images_per_s=record["throughput"]["train_images_per_s"] if record else None,
               test_top1=record["final"]["test_top1"] if record else None, error="" if ok else run.stderr[-400:])


def step_fp16_ema_mixup(c: Check) -> None:
    amp = "fp16" if c.device.type == "cuda" else "bf16"  # fp16 needs CUDA; bf16 stands in on a CPU
    params = [*c.run_params(2), "-p", "amp", amp, "-p", "ema_decay", "0.99", "-p", "mixup", "0.8",
              "-p", "cutmix", "1.0", "-p", "overwrite", "True", "-p", "variant", "fp16ema"]
    run = subprocess.run([sys.executable, "-m", "cifarlib", "train", *params, *c.dirs("fp16ema")], cwd=REPO,
                         env=c.env(), capture_output=True, text=True)
    record = _record(c.out / "fp16ema")
    ok = run.returncode == 0 and record is not None
    c.emit("fp16_ema_mixup", ok=ok, amp=amp, rc=run.returncode,
           skipped_steps=[r.get("skipped_steps") for r in record["history"]] if record else None,
           test_top1=record["final"]["test_top1"] if record else None, error="" if ok else run.stderr[-400:])


def describe(row: dict) -> str:
    keys = [k for k in row if k not in ("step", "ok", "error")]
    text = ", ".join(f"{k}={row[k]}" for k in keys)
    return text + (f"  ERROR {row['error'][:160]}" if row.get("error") else "")


def step_summary(c: Check) -> None:
    path = c.out / "results.jsonl"
    rows = [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []
    lines = [f"{'step':16s} {'ok':4s} result"]
    for row in rows:
        if row["step"] == "one_step" and row.get("ok"):
            continue  # summarised below
        lines.append(f"{row['step']:16s} {'yes' if row.get('ok') else 'NO':4s} {describe(row)}")
    steps = [r for r in rows if r["step"] == "one_step"]
    if steps:
        good = [r for r in steps if r.get("ok")]
        slowest = sorted(good, key=lambda r: -r["seconds_per_step"])[:3]
        lines.append(f"{'one_step':16s} {'yes' if len(good) == len(steps) else 'NO':4s} {len(good)}/{len(steps)} "
                     f"model x precision steps finite; slowest: "
                     + ", ".join(f"{r['model']}/{r['precision']} {r['seconds_per_step'] * 1e3:.1f} ms" for r in slowest))
    failed = sum(not r.get("ok") for r in rows)
    lines.append(f"{len(rows)} result lines, {failed} failed")
    text = "\n".join(lines)
    (c.out / "summary.txt").write_text(text + "\n")
    print(text)


STEPS = {"env": step_env, "one_step": step_one_step, "throughput": step_throughput, "packed": step_packed,
         "resume": step_resume, "ddp": step_ddp, "fp16_ema_mixup": step_fp16_ema_mixup, "summary": step_summary}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("step", choices=[*STEPS, "packed_worker"])
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--steps", type=int, default=200)
    parser.add_argument("--batch", type=int, default=128)
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit("no CUDA device visible: run with --device cpu --quick for the CPU dry run")
    check = Check(args.out.resolve(), args.device, args.quick)
    if args.step == "packed_worker":
        step_packed_worker(check, args.steps, args.batch)
    else:
        STEPS[args.step](check)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
