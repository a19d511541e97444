"""Fault injection: each case of the trustworthy-runs issue, reproduced, with the new behaviour.

1 changed config or data -> refusal naming the difference; 2 stale cache -> re-decode;
3 corrupt record -> named, moved aside, run not done; 4 unknown notebook parameter -> refused
with a suggestion; 5 every TrainConfig field reaches the engine (plan, CLI + notebook);
6 late or nameless errors -> early and named; 7 divergence -> no record; 10 FLOPs at the data's
image size. (8, concurrent sweeps: tests/test_scaleout.py; 9, names: tests of the registry.)
"""

from __future__ import annotations

import json
import math
import subprocess
import sys
import zipfile
from dataclasses import asdict, fields
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from cifarlib.data import DataError, load_image_folder
from cifarlib.engine import CheckpointError, DivergenceError, TrainConfig, divergence_bound
from cifarlib.params import parameter_names, parse_run_parameters
from cifarlib.results import RecordError, load_runs, read_or_quarantine, read_record
from cifarlib.runner import RunConflictError, run_training
from cifarlib.sweep import plan_runs

REPO = Path(__file__).resolve().parent.parent


def write_folder(root: Path, per_class: int = 6, size: int = 28, classes=("c0", "c1"), mode: str = "L") -> Path:
    rng = np.random.default_rng(0)
    for split in ("train", "test"):
        for ci, cls in enumerate(classes):
            (root / split / cls).mkdir(parents=True, exist_ok=True)
            for i in range(per_class):
                shape = (size, size) if mode == "L" else (size, size, 3)
                img = (rng.integers(0, 60, size=shape) + 150 * ci).astype(np.uint8)
                Image.fromarray(img, mode=mode).save(root / split / cls / f"{i:03d}.png")
    return root


def quick(dataset: str, **kw) -> TrainConfig:
    base = dict(model="resnet20", dataset=dataset, epochs=1, batch_size=4, eval_batch_size=8, lr=0.05,
                amp="off", channels_last=False, device="cpu", label_smoothing=0.0)
    return TrainConfig(**{**base, **kw})


def run(tmp: Path, config: TrainConfig, **kw) -> dict:
    return run_training(config, "faults", results_dir=tmp / "results", checkpoint_dir=tmp / "ckpt",
                        progress=False, **kw)


@pytest.fixture()
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setenv("CIFARLIB_CACHE", str(tmp_path / "cache"))
    return write_folder(tmp_path / "good")


# 1 ------------------------------------------------------------------------------------------


def test_changed_config_is_refused_naming_the_difference(tmp_path: Path, folder: Path) -> None:
    first = run(tmp_path, quick(f"folder:{folder}"))
    with pytest.raises(RunConflictError) as err:
        run(tmp_path, quick(f"folder:{folder}", epochs=2))
    assert "epochs: 1 -> 2" in str(err.value) and "-p overwrite True" in str(err.value)
    assert "-p variant" in str(err.value)
    again = run(tmp_path, quick(f"folder:{folder}"))  # the same run is reused, bit for bit
    assert again == first
    replaced = run(tmp_path, quick(f"folder:{folder}", epochs=2), overwrite=True)
    assert len(replaced["history"]) == 2


def test_other_data_under_the_same_name_is_refused(tmp_path: Path, folder: Path) -> None:
    run(tmp_path, quick(f"folder:{folder}"))
    other = write_folder(tmp_path / "elsewhere" / "good", per_class=7)  # also named 'good'
    with pytest.raises(RunConflictError, match="data fingerprint"):
        run(tmp_path, quick(f"folder:{other}"))


def test_a_record_holds_identity_and_no_absolute_path(tmp_path: Path, folder: Path) -> None:
    record = run(tmp_path, quick(f"folder:{folder}"))
    assert len(record["identity"]["config_hash"]) == 16
    assert record["identity"]["data_fingerprint"] == record["data"]["fingerprint"]
    assert record["data"]["image_size"] == [28, 28] and len(record["data"]["mean"]) == 3
    text = json.dumps(record)
    assert str(tmp_path) not in text and str(REPO) not in text


# 2 ------------------------------------------------------------------------------------------


def test_added_images_invalidate_the_cache(folder: Path) -> None:
    before = load_image_folder(folder)
    write_folder(folder, per_class=9)  # 3 more images per class
    after = load_image_folder(folder)
    assert len(after.train_y) == len(before.train_y) + 6
    assert after.fingerprint != before.fingerprint


# 3 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("content", ['{"schema": 1, "run": "x", "conf', "{}"])
def test_corrupt_record_is_named_and_moved_aside(tmp_path: Path, content: str) -> None:
    path = tmp_path / "results" / "d" / "e" / "resnet20-default-s0.json"
    path.parent.mkdir(parents=True)
    path.write_text(content)
    with pytest.raises(RecordError, match=str(path).replace("\\", "\\\\")):
        load_runs(tmp_path / "results")
    assert read_or_quarantine(path, log=lambda *_: None) is None  # what the sweep reads: not done
    assert not path.exists() and path.with_name(path.name + ".corrupt").exists()
    assert load_runs(tmp_path / "results").empty  # the aside copy is not a record


# 4 ------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_unknown_notebook_parameter_is_refused_with_a_suggestion(tmp_path: Path) -> None:
    import papermill as pm

    with pytest.raises(pm.PapermillExecutionError) as err:
        pm.execute_notebook(str(REPO / "notebooks" / "train.ipynb"), str(tmp_path / "o.ipynb"),
                            parameters={"epoch": 1}, kernel_name="python3", progress_bar=False, cwd=str(REPO))
    assert "epoch" in err.value.evalue and "did you mean 'epochs'" in err.value.evalue


def test_notebook_declares_exactly_the_parameters_and_is_generated() -> None:
    sys.path.insert(0, str(REPO / "tools"))
    import make_train_notebook  # noqa: PLC0415
    import nbformat

    committed = nbformat.read(REPO / "notebooks" / "train.ipynb", as_version=4)
    generated = make_train_notebook.build()
    assert [c.source for c in committed.cells] == [c.source for c in generated.cells], (
        "notebooks/train.ipynb is out of date: run python tools/make_train_notebook.py")
    declared = [line.split(":")[0] for line in committed.cells[2].source.splitlines()[1:]]
    assert declared == parameter_names()


def test_papermill_reads_every_declared_parameter() -> None:
    """papermill's own parser (``--help-notebook``, type inference) reads each line; a help text
    with ``=`` in it once made it print "Unable to parse line" on every run."""
    import nbformat
    from papermill.translators import PythonTranslator

    nb = nbformat.read(REPO / "notebooks" / "train.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "parameters" in c.metadata.get("tags", []))
    assert [p.name for p in PythonTranslator.inspect(cell)] == parameter_names()


# 5 ------------------------------------------------------------------------------------------

NON_DEFAULT = dict(
    model="eca_resnet8", model_kwargs={"attn_position": "post_add"}, dataset="cifar100",
    download=True, train_subset=200, test_subset=100, epochs=1, batch_size=50, eval_batch_size=70,
    lr=0.03, momentum=0.8, nesterov=False, weight_decay=1e-4, schedule="cosine", warmup_fraction=0.2,
    label_smoothing=0.05, amp="off", channels_last="off", compile=False, ema_decay=0.9, seed=3,
    device="cpu", sync_bn=True, optimizer="adamw", cutout=8, mixup=0.2, cutmix=1.0, tta="none",
    eval_precision="fp32", ema_every=2, compile_mode="reduce-overhead", checkpoint_every=2,
    val_split=100,  # one image per class of the generated CIFAR-100 files held out
)
# compile stays False (torch.compile needs a C++ toolchain and minutes) and dataset cifar100 (the
# generated test data is in its format); data_root is set per test.


def test_non_default_values_cover_every_field() -> None:
    defaults = asdict(TrainConfig())
    changed = {k for k, v in NON_DEFAULT.items() if v != defaults[k]}
    assert set(NON_DEFAULT) | {"data_root"} == {f.name for f in fields(TrainConfig)}
    assert changed == set(NON_DEFAULT) - {"compile", "dataset"}


def test_every_field_reaches_the_config_from_a_plan(tmp_path: Path) -> None:
    plan = {"presets": {"p": {"dataset": "cifar100", "data_root": "somewhere",
                              "settings": {k: v for k, v in NON_DEFAULT.items() if k not in ("model", "model_kwargs", "seed")},
                              "groups": [{"experiment": "e", "models": ["eca_resnet8"], "seeds": [3],
                                          "variants": {"post": {"attn_position": "post_add"}}}]}}}
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(plan))
    (only,) = plan_runs("p", tmp_path / "plan.yaml")
    assert asdict(only.config) == {**NON_DEFAULT, "data_root": "somewhere"}


@pytest.mark.slow
def test_every_field_reaches_the_engine_from_the_cli_and_notebook(generated_root: Path, tmp_path: Path) -> None:
    params = {**NON_DEFAULT, "data_root": str(generated_root)}
    args = [a for k, v in params.items() for a in ("-p", k, json.dumps(v))]
    dirs = ["--results-dir", str(tmp_path / "r"), "--checkpoint-dir", str(tmp_path / "c"),
            "--runs-dir", str(tmp_path / "n")]
    out = subprocess.run([sys.executable, "-m", "cifarlib", "train", *args, *dirs],
                         capture_output=True, text=True, timeout=600)
    assert out.returncode == 0, out.stderr[-3000:]
    (path,) = (tmp_path / "r").rglob("*.json")
    stored = read_record(path)["config"]
    assert {k: stored[k] for k in NON_DEFAULT} == NON_DEFAULT


# 6 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,value,words", [
    ("seed", "abc", "bad value for seed"), ("lr", float("nan"), "finite"), ("epochs", 1.5, "bad value for epochs"),
    ("amp", True, "quote it"), ("nesterov", "yes please", "bad value for nesterov"),
])
def test_bad_types_fail_before_any_data_is_loaded(name: str, value, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_run_parameters({name: value, "dataset": "folder:/nonexistent"})


def test_yaml_off_means_amp_off() -> None:
    assert parse_run_parameters({"amp": False}).config.amp == "off"


def test_truncated_zip_names_the_file(tmp_path: Path, folder: Path) -> None:
    archive = tmp_path / "data.zip"
    with zipfile.ZipFile(archive, "w") as z:
        for p in folder.rglob("*.png"):
            z.write(p, p.relative_to(folder))
    archive.write_bytes(archive.read_bytes()[:300])
    with pytest.raises(DataError, match="data.zip is not a readable zip"):
        load_image_folder(archive)


def test_garbage_image_names_the_member(tmp_path: Path, folder: Path) -> None:
    (folder / "train" / "c0" / "zz_bad.png").write_bytes(b"not an image")
    with pytest.raises(DataError, match="zz_bad.png"):
        load_image_folder(folder)


def test_truncated_checkpoint_names_the_path_and_the_fixes(tmp_path: Path, folder: Path) -> None:
    config = quick(f"folder:{folder}", epochs=2)
    ckpt = tmp_path / "ckpt" / "good" / "faults" / "resnet20-default-s0.pt"
    ckpt.parent.mkdir(parents=True)
    ckpt.write_bytes(b"PK\x03\x04 truncated")
    with pytest.raises(CheckpointError) as err:
        run(tmp_path, config)
    assert str(ckpt) in str(err.value) and "restart True" in str(err.value)
    assert len(run(tmp_path, config, restart=True)["history"]) == 2


def test_unwritable_results_fail_before_training(tmp_path: Path, folder: Path) -> None:
    (tmp_path / "results").write_text("a file where a folder should be")
    with pytest.raises(PermissionError, match="cannot write"):
        run(tmp_path, quick(f"folder:{folder}", epochs=50))  # would take minutes if it trained


@pytest.mark.slow
def test_missing_data_fails_short_and_leaves_no_book_folder(tmp_path: Path) -> None:
    out = subprocess.run([sys.executable, "-m", "cifarlib", "train", "-p", "dataset", f"folder:{tmp_path}/nope.zip",
                          "--runs-dir", str(tmp_path / "n"), "--results-dir", str(tmp_path / "r"),
                          "--checkpoint-dir", str(tmp_path / "c")], capture_output=True, text=True, timeout=120)
    assert out.returncode == 2
    assert "not found" in out.stderr and len(out.stderr.splitlines()) <= 3
    assert not (tmp_path / "n").exists()


# 7 ------------------------------------------------------------------------------------------


def test_divergence_stops_without_a_record(tmp_path: Path, folder: Path) -> None:
    with pytest.raises(DivergenceError, match="No record was written"):
        run(tmp_path, quick(f"folder:{folder}", lr=50.0, epochs=3, weight_decay=0.0))
    assert not list((tmp_path / "results").rglob("*.json"))


def test_divergence_bound_is_three_uniform_losses() -> None:
    assert divergence_bound(100) == pytest.approx(3 * math.log(100))


# 10 -----------------------------------------------------------------------------------------


def test_flops_are_counted_at_the_data_image_size(tmp_path: Path, folder: Path) -> None:
    record = run(tmp_path, quick(f"folder:{folder}"))
    assert record["model_info"]["flops_image_size"] == 28
    from cifarlib.models import create_model
    from cifarlib.profile import count_flops

    assert record["model_info"]["flops"] == count_flops(create_model("resnet20", num_classes=2), image_size=28)
    assert record["model_info"]["flops"] < count_flops(create_model("resnet20", num_classes=2), image_size=32)


def test_confusion_and_per_image_correctness_are_stored(tmp_path: Path, folder: Path) -> None:
    record = run(tmp_path, quick(f"folder:{folder}"))
    confusion = np.array(record["confusion"])
    assert confusion.shape == (2, 2) and confusion.sum() == record["final"]["test_images"]
    import base64

    bits = np.unpackbits(np.frombuffer(base64.b64decode(record["test_correct"]["bits"]), dtype=np.uint8))
    hits = bits[: record["test_correct"]["images"]].sum()
    assert 100 * hits / record["final"]["test_images"] == pytest.approx(record["final"]["test_top1"])
    assert np.trace(confusion) == hits
