"""The training engine: config validation, schedules, overfitting a tiny set, exact resume."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
import torch

from cifarlib.data import load_dataset
from cifarlib.devices import resolve_amp
from cifarlib.engine import TrainConfig, lr_lambda, train
from helpers import Interrupt, stop_after, tiny_data


def quick_config(**kw) -> TrainConfig:
    base = dict(model="resnet20", dataset="unused", epochs=2, batch_size=8, eval_batch_size=16,
                lr=0.05, label_smoothing=0.0, amp="off", channels_last="off", seed=0, device="cpu")
    return TrainConfig(**{**base, **kw})


@pytest.mark.parametrize("field,value,allowed", [
    ("schedule", "step", "onecycle"), ("amp", "fp8", "bf16"), ("epochs", 0, ">= 1"),
    ("lr", -1.0, "positive"), ("label_smoothing", 1.5, "[0, 1)"), ("device", "tpu", "cuda"),
    ("eval_precision", "bf16", "fp32"), ("compile_mode", "fast", "reduce-overhead"), ("ema_every", 0, ">= 1"),
])
def test_bad_values_name_the_parameter_and_allowed_values(field: str, value, allowed: str) -> None:
    with pytest.raises(ValueError) as err:
        quick_config(**{field: value}).validate()
    assert field in str(err.value) and allowed in str(err.value)


def test_unknown_model_fails_validation() -> None:
    with pytest.raises(KeyError, match="resnet20"):
        quick_config(model="nope").validate()


def test_schedules_start_low_peak_and_end_at_zero() -> None:
    for name in ("onecycle", "cosine"):
        f = lr_lambda(name, total_steps=100, warmup_steps=10)
        assert f(0) == pytest.approx(0.1)
        assert f(10) == pytest.approx(1.0)
        assert f(100) == pytest.approx(0.0, abs=1e-9)
        values = [f(s) for s in range(10, 101)]
        assert all(a >= b for a, b in zip(values, values[1:]))  # monotone decay after warm-up
    assert lr_lambda("onecycle", 100, 10)(55) == pytest.approx(0.5)
    assert lr_lambda("cosine", 100, 10)(55) == pytest.approx(0.5)


def test_amp_policy_on_cpu() -> None:
    cpu = torch.device("cpu")
    assert resolve_amp("off", cpu) is None
    assert resolve_amp("bf16", cpu) is torch.bfloat16
    with pytest.raises(ValueError, match="CUDA"):
        resolve_amp("fp16", cpu)


def test_engine_overfits_a_tiny_set() -> None:
    data = tiny_data()
    result = train(quick_config(epochs=15, lr=0.02, batch_size=16), data=data, progress=False)
    losses = [row["train_loss"] for row in result.history]
    assert losses[-1] < 0.05 * losses[0]
    assert result.final.top1 == 100.0
    assert result.final.top5 == 100.0
    assert result.final.per_class == [100.0] * 4
    assert len(result.history) == 15 and result.train_images_per_s > 0


def test_bf16_autocast_trains(tmp_path: Path) -> None:
    result = train(quick_config(epochs=8, amp="bf16", channels_last=True), data=tiny_data(), progress=False)
    assert result.amp_dtype == "bfloat16"
    assert result.history[-1]["train_loss"] < result.history[0]["train_loss"]


def _params(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


@pytest.mark.parametrize("options", [
    dict(ema_decay=0.0), dict(ema_decay=0.9),
    dict(optimizer="adamw", lr=1e-3, weight_decay=0.05),  # the full preset's recipe options
    dict(cutout=8, mixup=0.2, cutmix=1.0),
])
def test_interrupted_run_resumes_exactly(tmp_path: Path, options: dict) -> None:
    data = tiny_data()
    config = quick_config(**{"epochs": 3, "label_smoothing": 0.1, "weight_decay": 5e-4, **options})
    straight = train(config, data=data, checkpoint=tmp_path / "a.pt", progress=False)

    with pytest.raises(Interrupt):
        train(config, data=data, checkpoint=tmp_path / "b.pt", on_epoch=stop_after(1), progress=False)
    assert torch.load(tmp_path / "b.pt", weights_only=False)["epoch"] == 1
    resumed = train(config, data=data, checkpoint=tmp_path / "b.pt", progress=False)
    assert resumed.resumed_from_epoch == 1
    a, b = _params(straight.model), _params(resumed.model)
    assert a.keys() == b.keys()
    for k in a:
        assert torch.equal(a[k], b[k]), f"{k} differs after resume"
    assert [r["test_top1"] for r in straight.history] == [r["test_top1"] for r in resumed.history]
    assert [r["train_loss"] for r in straight.history] == [r["train_loss"] for r in resumed.history]
    assert straight.final.top1 == resumed.final.top1


def test_checkpoint_of_another_config_is_refused(tmp_path: Path) -> None:
    data = tiny_data()
    train(quick_config(epochs=1), data=data, checkpoint=tmp_path / "c.pt", progress=False)
    with pytest.raises(ValueError, match="different config"):
        train(quick_config(epochs=1, lr=0.01), data=data, checkpoint=tmp_path / "c.pt", progress=False)


def test_trains_on_generated_cifar100_through_torchvision(generated_root: Path) -> None:
    config = quick_config(model="eca_resnet20", dataset="cifar100", data_root=str(generated_root),
                          epochs=1, batch_size=50)
    result = train(config, progress=False)
    assert len(result.classes) == 100 and len(result.final.per_class) == 100
    assert result.data_info["generated"] is True
    assert load_dataset("cifar100", generated_root).test_x.shape[0] == result.final.images


class _Asymmetric(torch.nn.Module):
    """Logits that depend on the left/right layout: flip TTA must change them."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        left, right = x[..., :16].mean(dim=(1, 2, 3)), x[..., 16:].mean(dim=(1, 2, 3))
        return torch.stack([left, right, left - right, right - left], dim=1)


def test_flip_tta_scores_the_mean_of_image_and_mirror_logits() -> None:
    from cifarlib.data import BatchLoader
    from cifarlib.engine import evaluate

    x = torch.randint(0, 100, (12, 3, 32, 32), generator=torch.Generator().manual_seed(0))
    x[:6, ..., :16] += 150  # bright left half: class 0 without TTA
    y = torch.zeros(12, dtype=torch.long)
    loader = BatchLoader(x.to(torch.uint8), y, batch_size=5, mean=(0, 0, 0), std=(1, 1, 1))
    x = torch.cat([xb for xb, _ in loader])  # what the model sees
    model = _Asymmetric()
    plain, flipped = evaluate(model, loader, 4), evaluate(model, loader, 4, tta="flip")
    logits = model(x)
    mean_logits = 0.5 * (logits + model(x.flip(3)))
    expected_loss = torch.nn.functional.cross_entropy(mean_logits, y).item()
    assert flipped.loss == pytest.approx(expected_loss, rel=1e-5)
    assert plain.loss == pytest.approx(torch.nn.functional.cross_entropy(logits, y).item(), rel=1e-5)
    assert flipped.loss != pytest.approx(plain.loss)
    assert flipped.top1 == pytest.approx(100 * (mean_logits.topk(1).indices[:, 0] == y).float().mean().item())


def test_run_reports_every_evaluation_view_and_the_configured_one() -> None:
    data = tiny_data(noise=60)
    plain = train(quick_config(epochs=2, ema_decay=0.9, tta="none"), data=data, progress=False)
    assert set(plain.eval_views) == {"model", "model+flip", "ema", "ema+flip"}
    assert plain.eval_views["ema"] == plain.final.top1  # EMA on: the averaged weights are reported
    tta = train(quick_config(epochs=2, ema_decay=0.9, tta="flip"), data=data, progress=False)
    assert tta.eval_views == plain.eval_views  # TTA changes scoring only, never training
    assert tta.final.top1 == tta.eval_views["ema+flip"]
    no_ema = train(quick_config(epochs=1), data=data, progress=False)  # the default: tta="flip"
    assert set(no_ema.eval_views) == {"model", "model+flip"}
    assert no_ema.final.top1 == no_ema.eval_views["model+flip"]


def _fp16_like_parts(config: TrainConfig, data, poison_calls: set[int]):
    """Parts of a CPU run whose gradient scaler is on (as under fp16 on a GPU) and whose model
    returns infinite logits on the forward calls in ``poison_calls`` (an overflowed step)."""
    from cifarlib import autotune, distributed
    from cifarlib.engine import build_parts, make_loaders

    policy = autotune.Policy("fp32", False, "explicit")
    env, device = distributed.DistEnv(), torch.device("cpu")
    loader, _ = make_loaders(config, data, device, env, False)
    parts = build_parts(config, data.num_classes, device, env, policy, len(loader))
    parts.scaler = torch.amp.GradScaler("cpu", enabled=True)
    calls = [0]

    def poison(module, inputs, output):
        calls[0] += 1
        return output * float("inf") if calls[0] in poison_calls else output

    parts.model.register_forward_hook(poison)
    return parts, loader


def test_a_non_finite_fp16_step_is_skipped_and_counted_and_the_run_goes_on() -> None:
    from cifarlib.engine import check_divergence, train_one_epoch

    config = TrainConfig(model="eca_resnet8", dataset="unused", epochs=2, batch_size=4, lr=0.05,
                         amp="off", channels_last="off", device="cpu")
    data = tiny_data()
    parts, loader = _fp16_like_parts(config, data, poison_calls={2})
    stats = train_one_epoch(parts, loader, 0, progress=False)
    assert (stats.steps, stats.skipped_steps) == (len(loader), 1)
    assert math.isfinite(stats.loss)
    assert all(torch.isfinite(p).all() for p in parts.model.parameters())
    row = {"epoch": 1, "train_loss": stats.loss, "skipped_steps": stats.skipped_steps}
    check_divergence(row, data.num_classes, config.lr, stats.steps)  # one skip: the run goes on
    again = train_one_epoch(parts, loader, 1, progress=False)
    assert again.skipped_steps == 0 and math.isfinite(again.loss)


def test_sustained_fp16_skips_count_as_divergence() -> None:
    from cifarlib.engine import DivergenceError, check_divergence, train_one_epoch

    config = TrainConfig(model="eca_resnet8", dataset="unused", epochs=1, batch_size=8, lr=0.05,
                         amp="off", channels_last="off", device="cpu")
    parts, loader = _fp16_like_parts(config, tiny_data(), poison_calls=set(range(1, 100)))
    stats = train_one_epoch(parts, loader, 0, progress=False)
    assert stats.skipped_steps == stats.steps == len(loader)
    with pytest.raises(DivergenceError, match="skipped"):
        check_divergence({"epoch": 1, "train_loss": stats.loss, "skipped_steps": stats.skipped_steps},
                         4, config.lr, stats.steps)


def test_eval_precision_fp32_scores_without_autocast_and_leaves_training_alone() -> None:
    from cifarlib import distributed
    from cifarlib.engine import evaluate, make_loaders

    data = tiny_data()
    options = dict(model="eca_resnet8", epochs=2, amp="bf16", channels_last="off", tta="none")
    default = train(quick_config(**options), data=data, progress=False)
    fp32 = train(quick_config(**options, eval_precision="fp32"), data=data, progress=False)
    assert [r["train_loss"] for r in fp32.history] == [r["train_loss"] for r in default.history]
    _, loader = make_loaders(quick_config(**options), data, torch.device("cpu"), distributed.DistEnv(), False)
    assert fp32.final.loss == evaluate(fp32.model, loader, data.num_classes, None).loss
    assert default.final.loss == evaluate(default.model, loader, data.num_classes, torch.bfloat16).loss
    assert default.final.loss != fp32.final.loss  # bf16 rounding shows in the loss


@pytest.mark.parametrize("name", ["resnet20", "coat_resnet20", "ghost_resnet20"])
def test_foreach_ema_equals_the_per_tensor_update(name: str) -> None:
    """The cached-list ``_foreach_lerp_`` EMA gives bit for bit what the per-tensor loop over
    ``state_dict()`` gave (``ema_every=1``, the default), BN buffers and counters included."""
    from cifarlib.engine import WeightEMA
    from cifarlib.models import create_model

    torch.manual_seed(0)
    model = create_model(name, num_classes=4).train()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    ema = WeightEMA(model, 0.9)
    reference = {k: v.detach().clone() for k, v in model.state_dict().items()}
    for _ in range(3):
        loss = model(torch.randn(4, 3, 32, 32)).logsumexp(1).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        ema.update()
        with torch.no_grad():
            for k, v in model.state_dict().items():
                reference[k].lerp_(v, 1 - 0.9) if v.dtype.is_floating_point else reference[k].copy_(v)
    assert all(torch.equal(ema.state_dict()[k], reference[k]) for k in reference)
    assert any(not torch.equal(ema.state_dict()[k], v) for k, v in model.state_dict().items())  # it averages


def test_ema_every_k_steps_updates_on_global_steps_with_decay_to_the_k() -> None:
    data = tiny_data()
    every_step = train(quick_config(model="eca_resnet8", epochs=2, ema_decay=0.9, tta="none"), data=data,
                       progress=False)
    every_two = train(quick_config(model="eca_resnet8", epochs=2, ema_decay=0.9, ema_every=2, tta="none"),
                      data=data, progress=False)
    assert [r["train_loss"] for r in every_two.history] == [r["train_loss"] for r in every_step.history]
    assert every_two.final.loss != every_step.final.loss  # another average of the same weights
    with pytest.raises(ValueError, match="ema_every"):
        quick_config(ema_every=0).validate()


def test_checkpoint_every_n_epochs_and_after_the_last_and_resume_stays_exact(tmp_path: Path) -> None:
    """checkpoint_every=2 over 3 epochs writes after epochs 2 and 3 only; a run stopped after
    epoch 2 resumes to the uninterrupted weights (an EMA updated every 3 steps included)."""
    data = tiny_data()
    config = quick_config(model="eca_resnet8", epochs=3, checkpoint_every=2, ema_decay=0.9, ema_every=3)
    saved_epochs: list[int | None] = []

    def note(row: dict) -> None:
        path = tmp_path / "a.pt"
        saved_epochs.append(torch.load(path, weights_only=False)["epoch"] if path.exists() else None)

    straight = train(config, data=data, checkpoint=tmp_path / "a.pt", on_epoch=note, progress=False)
    assert saved_epochs == [None, 2, 3]

    with pytest.raises(Interrupt):
        train(config, data=data, checkpoint=tmp_path / "b.pt", on_epoch=stop_after(2), progress=False)
    resumed = train(config, data=data, checkpoint=tmp_path / "b.pt", progress=False)
    assert resumed.resumed_from_epoch == 2
    a, b = _params(straight.model), _params(resumed.model)
    assert all(torch.equal(a[k], b[k]) for k in a)
    assert straight.final.loss == resumed.final.loss
