"""Training throughput of resnet20 on this machine, three ways, measured in one run.

1. ``engine``: cifarlib's training loop (``cifarlib.engine.train``: batched on-device
   augmentation, AMP policy ``auto``, channels_last), images/s over its training steps;
2. ``bare``: forward/backward/SGD step on ready, already-normalised tensors with the same AMP
   and memory format: the ceiling for any data pipeline;
3. ``textbook``: the usual tutorial loop: torchvision transforms (RandomCrop(32, pad 4),
   RandomHorizontalFlip, ToTensor, Normalize) on PIL images through a DataLoader, fp32.

Timings on shared machines are noisy: compare the ratios, which come from one run.
Usage: ``python benchmarks/train_throughput.py [--images 10240] [--out FILE.json]``
(uses the offline CIFAR-10 zip for real images; ``--data`` to change).
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
import torch.nn as nn
import torchvision.transforms as T
from PIL import Image

from cifarlib.data import load_dataset, normalize, offline_zip
from cifarlib.devices import autocast_context, device_name, resolve_amp
from cifarlib.engine import TrainConfig, train
from cifarlib.models import create_model

DEFAULT_DATA = str(offline_zip())


def bench_engine(data, spec: str, images: int, batch_size: int, amp: str, channels_last: bool,
                 model: str = "resnet20") -> float:
    """``data`` is the data set loaded from ``spec``."""
    config = TrainConfig(model=model, dataset=spec, epochs=1, batch_size=batch_size,
                         train_subset=images, test_subset=len(data.classes) * 10, amp=amp,
                         channels_last=channels_last, device="cpu", warmup_fraction=0.0)
    return train(config, data=data, progress=False).train_images_per_s


def bench_bare(data, images: int, batch_size: int, amp: str, channels_last: bool, name: str = "resnet20",
               warmup: int = 1) -> float:
    torch.manual_seed(0)
    device = torch.device("cpu")
    dtype = resolve_amp(amp, device)
    model = create_model(name, num_classes=len(data.classes))
    fmt = torch.channels_last if channels_last else torch.contiguous_format
    model = model.to(memory_format=fmt).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    crit = nn.CrossEntropyLoss(label_smoothing=0.1)
    x = normalize(data.train_x[:batch_size], data.mean, data.std).contiguous(memory_format=fmt)
    y = data.train_y[:batch_size]
    steps = images // batch_size

    def step() -> None:
        with autocast_context(device, dtype):
            loss = crit(model(x).float(), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()

    for _ in range(warmup):
        step()
    start = time.perf_counter()
    for _ in range(steps):
        step()
    return steps * batch_size / (time.perf_counter() - start)


class PILDataset(torch.utils.data.Dataset):
    def __init__(self, x: torch.Tensor, y: torch.Tensor, transform) -> None:
        self.images = [Image.fromarray(img.permute(1, 2, 0).numpy()) for img in x]
        self.y = y.tolist()
        self.transform = transform

    def __len__(self) -> int:
        return len(self.y)

    def __getitem__(self, i: int):
        return self.transform(self.images[i]), self.y[i]


def bench_textbook(data, images: int, batch_size: int, workers: int) -> float:
    torch.manual_seed(0)
    transform = T.Compose([T.RandomCrop(32, padding=4), T.RandomHorizontalFlip(), T.ToTensor(),
                           T.Normalize(data.mean, data.std)])
    ds = PILDataset(data.train_x[:images], data.train_y[:images], transform)
    loader = torch.utils.data.DataLoader(ds, batch_size=batch_size, shuffle=True, drop_last=True,
                                         num_workers=workers)
    model = create_model("resnet20", num_classes=len(data.classes)).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.05, momentum=0.9, nesterov=True)
    crit = nn.CrossEntropyLoss()
    start, seen = time.perf_counter(), 0
    for x, y in loader:
        loss = crit(model(x), y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        seen += len(y)
    return seen / (time.perf_counter() - start)


def bench_models(data, spec: str, models: list[str], images: int, batch_size: int,
                 repeats: int = 1) -> list[dict]:
    """Engine vs bare step per model, both under the execution policy the engine measures for it
    (:func:`cifarlib.autotune.resolve_policy`, cached); the bare step gets the engine's 3 warm-up
    steps so that both time steady steps only. With ``repeats > 1`` the two alternate (engine,
    bare, engine, bare, ...) and the median of the per-pair ratios is reported with its range, so
    a slow phase of a shared machine hits both sides of a pair alike."""
    import statistics

    from cifarlib import autotune
    from cifarlib.engine import WARMUP_STEPS

    device = torch.device("cpu")
    rows = []
    for name in models:
        def build(name: str = name) -> nn.Module:
            return create_model(name, num_classes=len(data.classes))

        policy = autotune.resolve_policy("auto", "auto", name, {}, build, batch_size, tuple(data.train_x.shape[1:]),
                                         len(data.classes), device, device_name(device))
        amp = "bf16" if policy.precision == "bf16" else "off"
        engines, bares = [], []
        for _ in range(repeats):
            engines.append(bench_engine(data, spec, images, batch_size, amp, policy.channels_last, model=name))
            bares.append(bench_bare(data, images, batch_size, amp, policy.channels_last, name=name,
                                    warmup=WARMUP_STEPS))
        ratios = [e / b for e, b in zip(engines, bares)]
        engine, bare = statistics.median(engines), statistics.median(bares)
        rows.append({"model": name, "policy": f"{policy.precision}/{'CL' if policy.channels_last else 'NCHW'}",
                     "engine": engine, "bare": bare, "engine_over_bare": statistics.median(ratios),
                     "ratio_min": min(ratios), "ratio_max": max(ratios), "repeats": repeats})
        print(f"{name:20s} {rows[-1]['policy']:10s} engine {engine:7.1f}  bare {bare:7.1f}  engine/bare "
              f"{statistics.median(ratios):5.2f} (pairs: {min(ratios):.2f}-{max(ratios):.2f}, n={repeats})",
              flush=True)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--data", default=f"folder:{DEFAULT_DATA}")
    parser.add_argument("--images", type=int, default=10240)
    parser.add_argument("--batch-size", type=int, default=128)
    parser.add_argument("--workers", type=int, default=2, help="DataLoader workers of the textbook loop")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--models", nargs="+", help="engine vs bare step for these models (and nothing else)")
    parser.add_argument("--repeats", type=int, default=1, help="interleaved engine/bare pairs per model")
    args = parser.parse_args()
    data = load_dataset(args.data)
    if args.models:
        print(f"device: {device_name(torch.device('cpu'))}, torch {torch.__version__}, {args.images} images, "
              f"batch {args.batch_size}")
        rows = bench_models(data, args.data, args.models, args.images, args.batch_size, args.repeats)
        if args.out:
            args.out.write_text(json.dumps({"device": device_name(torch.device("cpu")), "images": args.images,
                                            "batch_size": args.batch_size, "models": rows, "repeats": args.repeats,
                                            "torch": torch.__version__}, indent=1))
        return
    rows = {}
    rows["engine (auto AMP, channels_last)"] = bench_engine(data, args.data, args.images, args.batch_size, "auto", True)
    rows["engine (auto AMP, NCHW)"] = bench_engine(data, args.data, args.images, args.batch_size, "auto", False)
    rows["engine (fp32, channels_last)"] = bench_engine(data, args.data, args.images, args.batch_size, "off", True)
    rows["bare step (auto AMP, channels_last)"] = bench_bare(data, args.images, args.batch_size, "auto", True)
    rows["bare step (fp32, NCHW)"] = bench_bare(data, args.images, args.batch_size, "off", False)
    rows["textbook DataLoader loop (fp32)"] = bench_textbook(data, args.images, args.batch_size, args.workers)
    textbook = rows["textbook DataLoader loop (fp32)"]
    print(f"device: {device_name(torch.device('cpu'))}; AMP auto -> {resolve_amp('auto', torch.device('cpu'))}")
    print(f"{'loop':40s} {'images/s':>10s} {'x textbook':>11s}")
    for name, value in rows.items():
        print(f"{name:40s} {value:10.1f} {value / textbook:11.2f}")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"device": device_name(torch.device("cpu")), "images": args.images,
                                        "batch_size": args.batch_size, "images_per_s": rows,
                                        "torch": torch.__version__}, indent=1))


if __name__ == "__main__":
    main()
