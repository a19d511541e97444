"""Fault injection, round 2 (issue 21): data, paths, records, sweeps and the command line.

One test per case, numbered as in the issue: 2 generate-data never replaces data it did not
write; 4 no output path leaves its root; 8 the folder loader never changes the data silently
(and its zip members and cache keys); 9 records are validated on read; 10 a dead kernel fails
its run only; 12 ``train -p results_dir/checkpoint_dir``; 14 disk full; 16 smaller cases.
"""

from __future__ import annotations

import errno
import json
import os
import shutil
import zipfile
from pathlib import Path

import numpy as np
import pytest
import yaml
from PIL import Image

from cifarlib import data as data_module

from cifarlib.__main__ import main
from cifarlib.data import (GENERATED_MARKER, DataError, NotGeneratedError, is_generated, load_image_folder,
                           write_generated_cifar100)
from cifarlib.engine import CheckpointError, TrainConfig
from cifarlib.params import parse_run_parameters
from cifarlib.results import RecordError, load_details, load_per_class, load_runs, read_or_quarantine, read_record
from cifarlib.paths import TRAIN_NOTEBOOK, DiskFullError
from cifarlib.runner import dataset_tag, inside_root, run_paths, run_spec, run_training
from cifarlib.sweep import plan_runs, run_sweep
from test_faults import quick, write_folder  # the first round's tiny image folders and configs

REPO = Path(__file__).resolve().parent.parent


@pytest.fixture(autouse=True)
def keep_cwd(monkeypatch: pytest.MonkeyPatch) -> None:
    """``main`` changes to the repository root; restore the working directory after each test."""
    monkeypatch.chdir(Path.cwd())


@pytest.fixture()
def folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A tiny two-class image folder data set named 'good' (the decoded cache under tmp_path)."""
    monkeypatch.setenv("CIFARLIB_CACHE", str(tmp_path / "cache"))
    return write_folder(tmp_path / "good")


# 2 ------------------------------------------------------------------------------------------


def test_generate_data_refuses_a_folder_it_did_not_write(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    real = tmp_path / "cifar-100-python"
    real.mkdir()
    (real / "train").write_bytes(b"the real training pickle")
    (real / "notes.txt").write_text("my notes")
    with pytest.raises(NotGeneratedError, match=f"{real}.*no {GENERATED_MARKER} marker.*another folder"):
        write_generated_cifar100(tmp_path, 2, 1)
    assert (real / "train").read_bytes() == b"the real training pickle"
    assert (real / "notes.txt").read_text() == "my notes"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["cifar-100-python"]  # no temporary copy left
    assert main(["generate-data", str(tmp_path)]) == 2  # the command line: an error, not a traceback
    assert "no GENERATED.json marker" in capsys.readouterr().err
    assert (real / "notes.txt").exists()


def test_generate_data_still_replaces_its_own_files(tmp_path: Path) -> None:
    write_generated_cifar100(tmp_path, 2, 1, seed=0)
    write_generated_cifar100(tmp_path, 3, 1, seed=1)  # another generated set replaces the old one
    assert is_generated(tmp_path, "cifar100")
    assert '"seed": 1' in (tmp_path / "cifar-100-python" / GENERATED_MARKER).read_text()


# 4 ------------------------------------------------------------------------------------------


@pytest.mark.parametrize("name,value", [("experiment", ".."), ("experiment", "."), ("variant", "..."),
                                        ("variant", "../x")])
def test_names_made_of_dots_or_paths_are_refused(name: str, value: str) -> None:
    with pytest.raises(ValueError, match=f"bad value for {name}"):
        parse_run_parameters({name: value})


def test_a_dataset_tag_with_dots_is_resolved_inside_the_results_folder(tmp_path: Path, folder: Path) -> None:
    spec = f"folder:{folder}/train/.."  # the data set 'good', reached through one of its folders
    assert dataset_tag(spec) == "good" and load_image_folder(f"{folder}/train/..").name == "good"
    paths = run_paths(TrainConfig(dataset=spec), "e", "default", tmp_path / "r", tmp_path / "c", tmp_path / "n")
    for path, root in zip((paths.record, paths.checkpoint, paths.notebook), ("r", "c", "n")):
        assert path.parent.parent.name == "good" and path.is_relative_to(tmp_path / root)
    with pytest.raises(ValueError, match="bad value for dataset: 'folder:/'"):
        dataset_tag("folder:/")


def test_an_output_path_outside_its_root_is_refused_naming_the_parameter(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="not inside checkpoint_dir"):
        inside_root(tmp_path / "ckpt" / "data" / ".." / ".." / "x.pt", tmp_path / "ckpt", "checkpoint_dir")
    assert inside_root(tmp_path / "r" / "a" / "x.json", tmp_path / "r", "results_dir") == tmp_path / "r" / "a" / "x.json"


# 9 ------------------------------------------------------------------------------------------


def committed_record() -> dict:
    """A real record of the repository (a CIFAR-10 JPEG run), to damage one field at a time."""
    path = sorted((REPO / "results").glob("cifar10-jpeg/*/*.json"))[0]
    return json.loads(path.read_text())


def file_record(results: Path, record: dict, dataset: str | None = None) -> Path:
    path = results / (dataset or record["dataset"]) / record["experiment"] / f"{record['run']}.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(record))
    return path


def nan_top1(r: dict) -> None:
    r["final"]["test_top1"] = float("nan")


@pytest.mark.parametrize("damage,words", [
    (nan_top1, "test_top1 is nan, not a finite percentage"),
    (lambda r: r["final"].update(test_top1=250.0), "test_top1 is 250.0"),
    (lambda r: r.pop("data"), "lacks keys ['data']"),
    (lambda r: r.pop("model_info"), "lacks keys ['model_info']"),
    (lambda r: r["model_info"].pop("flops"), "section 'model_info' lacks ['flops']"),
    (lambda r: r["per_class_accuracy"].update(airplane=-3.0), "per_class_accuracy of ['airplane']"),
])
def test_a_bad_record_is_refused_on_read_naming_the_file_and_why(tmp_path: Path, damage, words: str) -> None:
    record = committed_record()
    damage(record)
    path = file_record(tmp_path / "results", record)
    with pytest.raises(RecordError) as err:
        load_runs(tmp_path / "results")  # the book: refused by name, never a bare KeyError
    assert str(path) in str(err.value) and words in str(err.value)
    logged: list[str] = []
    assert read_or_quarantine(path, log=logged.append) is None  # a sweep: moved aside, its run trained again
    assert path.with_name(path.name + ".corrupt").exists() and str(path.name) in logged[0]


def test_a_record_filed_under_another_data_set_is_refused(tmp_path: Path) -> None:
    record = committed_record()  # a CIFAR-10 record ...
    path = file_record(tmp_path / "results", record, dataset="cifar100")  # ... in the CIFAR-100 folder
    with pytest.raises(RecordError, match=f"{path}.*belongs at cifar10-jpeg/"):
        load_runs(tmp_path / "results")
    record["dataset"] = "cifar100"  # relabelled to match its folder: its data and classes say otherwise
    file_record(tmp_path / "results", record)
    with pytest.raises(RecordError, match="filed under dataset 'cifar100' but its data is 'cifar10-jpeg'"):
        read_record(path)


def test_a_record_missing_a_field_the_book_reads_names_the_file(tmp_path: Path) -> None:
    record = committed_record()
    del record["throughput"]["amp"], record["provenance"]["device"]
    path = file_record(tmp_path / "results", record)
    with pytest.raises(RecordError, match=f"{path}.*section 'provenance' lacks \\['device'\\]"):
        load_runs(tmp_path / "results")
    del record["wall_time_s"]
    record["provenance"]["device"] = "cpu"
    file_record(tmp_path / "results", record)
    with pytest.raises(RecordError, match="wall_time_s"):
        load_details(tmp_path / "results")


# 10 and 12: papermill faked in-process (the notebook's own call, run_spec, trains for real) --


def fake_papermill(monkeypatch: pytest.MonkeyPatch, die_for: tuple[int, ...] = ()) -> list[dict]:
    """Replace papermill's ``execute_notebook`` by one that trains in this process as
    ``train.ipynb`` would (``run_spec`` of the parsed parameters) and writes a copy of the
    notebook as its output; calls numbered in ``die_for`` raise nbclient's ``DeadKernelError``
    as papermill does when the kernel is killed. Returns the parameters of every call."""
    import papermill as pm
    from nbclient.exceptions import DeadKernelError

    calls: list[dict] = []

    def execute_notebook(input_path: str, output_path: str, parameters: dict, **_kw) -> None:
        calls.append(dict(parameters))
        if len(calls) in die_for:
            raise DeadKernelError("Kernel died")
        run_spec(parse_run_parameters(parameters), progress=False, log=lambda *_: None)
        Path(output_path).write_bytes(TRAIN_NOTEBOOK.read_bytes())

    monkeypatch.setattr(pm, "execute_notebook", execute_notebook)
    return calls


def test_a_dead_kernel_fails_its_run_and_the_sweep_goes_on(tmp_path: Path, folder: Path,
                                                           monkeypatch: pytest.MonkeyPatch) -> None:
    settings = dict(epochs=1, batch_size=4, eval_batch_size=8, lr=0.05, amp="off", channels_last="off",
                    device="cpu", label_smoothing=0.0)
    plan = {"presets": {"p": {"dataset": f"folder:{folder}", "settings": settings,
                              "groups": [{"experiment": "e", "models": ["resnet20"], "seeds": [0, 1]}]}}}
    (tmp_path / "plan.yaml").write_text(yaml.safe_dump(plan))
    calls = fake_papermill(monkeypatch, die_for=(1,))
    dirs = dict(results_dir=tmp_path / "r", checkpoint_dir=tmp_path / "c", runs_dir=tmp_path / "n")
    logged: list[str] = []
    with pytest.raises(RuntimeError, match="1 run\\(s\\) failed: resnet20-default-s0; the others finished"):
        run_sweep("p", tmp_path / "plan.yaml", log=logged.append, **dirs)
    assert len(calls) == 2  # the second run was started after the first one's kernel died
    failed = next(line for line in logged if line.startswith("FAILED"))
    assert "resnet20-default-s0" in failed and "kernel died" in failed and "DeadKernelError" in failed
    assert [p.name for p in (tmp_path / "r").rglob("*.json")] == ["resnet20-default-s1.json"]
    assert [p.name for p in (tmp_path / "n").rglob("*.ipynb")] == ["resnet20-default-s1.ipynb"]


def test_train_honours_results_dir_and_checkpoint_dir_parameters(tmp_path: Path, folder: Path,
                                                                  monkeypatch: pytest.MonkeyPatch,
                                                                  capsys: pytest.CaptureFixture) -> None:
    calls = fake_papermill(monkeypatch)
    params = dict(dataset=f"folder:{folder}", epochs=1, batch_size=4, eval_batch_size=8, amp="off",
                  channels_last="off", device="cpu", experiment="e", results_dir=str(tmp_path / "X"),
                  checkpoint_dir=str(tmp_path / "Y"))
    argv = ["train", *(a for k, v in params.items() for a in ("-p", k, str(v))), "--runs-dir", str(tmp_path / "n")]
    assert main(argv) == 0, capsys.readouterr().err
    assert calls[0]["results_dir"] == str(tmp_path / "X") and calls[0]["checkpoint_dir"] == str(tmp_path / "Y")
    assert [p.relative_to(tmp_path) for p in (tmp_path / "X").rglob("*.json")] == [
        Path("X/good/e/resnet20-default-s0.json")]
    assert [p.relative_to(tmp_path) for p in (tmp_path / "Y").rglob("*.pt")] == [Path("Y/good/e/resnet20-default-s0.pt")]
    assert f"record:   {tmp_path / 'X' / 'good' / 'e'}" in capsys.readouterr().out
    assert not (REPO / "results" / "good").exists()
    assert main([*argv, "--results-dir", str(tmp_path / "Z")]) == 2  # two different answers: refused
    assert "--results-dir" in capsys.readouterr().err and len(calls) == 1


# 8 ------------------------------------------------------------------------------------------


def test_a_second_data_set_at_another_depth_is_refused_naming_both(folder: Path) -> None:
    write_folder(folder / "backup_2023", per_class=2)  # backup_2023/train/<class>/ beside train/<class>/
    with pytest.raises(DataError, match=r"more than one data set: 'backup_2023' and '\.'.*move the other"):
        load_image_folder(folder)


def test_a_symlinked_class_folder_is_followed(tmp_path: Path, folder: Path) -> None:
    elsewhere = tmp_path / "elsewhere" / "c1"
    (folder / "train" / "c1").rename(elsewhere.parent.mkdir() or elsewhere)
    (folder / "train" / "c1").symlink_to(elsewhere, target_is_directory=True)
    data = load_image_folder(folder)
    assert data.classes == ["c0", "c1"] and len(data.train_y) == 12 and int(data.train_y.sum()) == 6
    (folder / "train" / "c0" / "loop").symlink_to(folder / "train", target_is_directory=True)
    with pytest.raises(DataError, match="loop.*symlink loop"):
        load_image_folder(folder)


def test_splits_of_different_image_sizes_are_refused_naming_split_and_sizes(tmp_path: Path) -> None:
    root = write_folder(tmp_path / "mixed", size=28)
    shutil.rmtree(root / "test")
    write_folder(tmp_path / "small", size=24)
    (tmp_path / "small" / "test").rename(root / "test")
    with pytest.raises(DataError, match="test image test/c0/000.png .* is 24x24, but the training images are 28x28"):
        load_image_folder(root)


def test_a_class_without_test_images_has_no_accuracy(tmp_path: Path, folder: Path) -> None:
    for image in (folder / "test" / "c1").iterdir():
        image.unlink()
    record = run_training(quick(f"folder:{folder}"), "faults", results_dir=tmp_path / "results",
                          checkpoint_dir=tmp_path / "ckpt", progress=False)
    assert record["per_class_accuracy"]["c1"] is None and record["per_class_accuracy"]["c0"] is not None
    per_class = load_per_class(tmp_path / "results")  # the record reads back; the book sees NaN
    assert per_class.set_index("class")["accuracy"].isna().to_dict() == {"c0": False, "c1": True}


def zip_folder(folder: Path, archive: Path, name=lambda rel: rel.as_posix()) -> Path:
    with zipfile.ZipFile(archive, "w") as z:
        for p in sorted(folder.rglob("*.png")):
            z.write(p, name(p.relative_to(folder)))
    return archive


def test_a_huge_zip_member_is_refused_before_it_is_read(tmp_path: Path, folder: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    archive = zip_folder(folder, tmp_path / "bomb.zip")
    with zipfile.ZipFile(archive, "a", compression=zipfile.ZIP_DEFLATED) as z:
        z.writestr("train/c0/zeros.png", bytes(4 * 2**20))  # 4 MiB of zeros, a few KiB compressed
    monkeypatch.setattr(data_module, "MAX_IMAGE_BYTES", 2**20)
    reads: list[str] = []
    original = zipfile.ZipFile.read
    monkeypatch.setattr(zipfile.ZipFile, "read", lambda self, name, pwd=None: reads.append(name) or original(self, name, pwd))
    with pytest.raises(DataError, match=f"train/c0/zeros.png in {archive} is 4194304 bytes uncompressed.*nothing of it was read"):
        load_image_folder(archive)
    assert "train/c0/zeros.png" not in reads


@pytest.mark.parametrize("limit,words", [("ours", "declares 28x28 pixels, over the limit of 100"),
                                         ("pil", "is a decompression bomb")])
def test_an_image_declaring_too_many_pixels_is_refused_naming_it(tmp_path: Path, folder: Path, limit: str, words: str,
                                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    archive = zip_folder(folder, tmp_path / "pixels.zip")
    if limit == "ours":
        monkeypatch.setattr(data_module, "MAX_IMAGE_PIXELS", 100)
    else:  # Pillow's own check, at twice its limit, fires while the header is read
        monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", 10)
    with pytest.raises(DataError, match=f"image train/c0/000.png in {archive} {words}"):
        load_image_folder(archive)


def test_a_zip_with_backslash_paths_is_read_as_paths(tmp_path: Path, folder: Path) -> None:
    archive = zip_folder(folder, tmp_path / "windows.zip", name=lambda rel: "\\".join(rel.parts))
    assert "train\\c0\\000.png" in zipfile.ZipFile(archive).namelist()
    data = load_image_folder(archive)
    assert data.classes == ["c0", "c1"] and data.fingerprint == load_image_folder(folder).fingerprint


def test_an_image_rewritten_in_place_with_the_same_size_and_mtime_is_decoded_again(folder: Path) -> None:
    image = folder / "train" / "c0" / "zz.bmp"  # BMP: the file size depends on the image size only
    Image.fromarray(np.zeros((28, 28), np.uint8), mode="L").save(image)
    before = load_image_folder(folder)
    stat = image.stat()
    Image.fromarray(np.full((28, 28), 255, np.uint8), mode="L").save(image)
    os.utime(image, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert image.stat().st_size == stat.st_size and image.stat().st_mtime_ns == stat.st_mtime_ns
    after = load_image_folder(folder)
    assert after.fingerprint != before.fingerprint and int(after.train_x.max()) == 255


# 14 -----------------------------------------------------------------------------------------


def test_a_full_checkpoint_folder_names_the_path_and_the_way_out(tmp_path: Path, folder: Path,
                                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    import shutil as shutil_module

    import torch

    save, usage = torch.save, shutil_module.disk_usage
    ckpt = tmp_path / "ckpt"

    def full_save(obj, f, *args, **kwargs):  # what torch.save reports on a full disk
        if str(f).startswith(str(ckpt)):
            raise RuntimeError("[enforce fail at inline_container.cc:603] . unexpected pos 128 vs 0")
        return save(obj, f, *args, **kwargs)

    monkeypatch.setattr(torch, "save", full_save)
    monkeypatch.setattr(shutil_module, "disk_usage",
                        lambda p: usage(p)._replace(free=0) if str(p).startswith(str(ckpt)) else usage(p))
    with pytest.raises(DiskFullError) as err:
        run_training(quick(f"folder:{folder}"), "faults", results_dir=tmp_path / "results",
                     checkpoint_dir=ckpt, progress=False)
    message = str(err.value)
    assert f"disk full: cannot write {ckpt / 'good' / 'faults' / 'resnet20-default-s0.pt'}" in message
    assert "0 bytes free" in message and "writes its record from its checkpoint" in message
    assert not list(ckpt.rglob("*.pt*")) and not list(ckpt.rglob(".*tmp*"))  # nothing half-written


def test_a_full_results_folder_names_the_path_and_a_rerun_writes_the_record(tmp_path: Path, folder: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    write_text = Path.write_text
    results = tmp_path / "results"

    def full_write(self: Path, *args, **kwargs):
        if str(self).startswith(str(results)) and ".json" in self.name:  # the record (the logs beside it fit)
            raise OSError(errno.ENOSPC, "No space left on device")
        return write_text(self, *args, **kwargs)

    config = quick(f"folder:{folder}")
    kw = dict(results_dir=results, checkpoint_dir=tmp_path / "ckpt", progress=False)
    with monkeypatch.context() as patch:
        patch.setattr(Path, "write_text", full_write)
        with pytest.raises(DiskFullError) as err:
            run_training(config, "faults", **kw)
    record_path = results / "good" / "faults" / "resnet20-default-s0.json"
    assert f"disk full: cannot write {record_path}" in str(err.value)
    assert "writes its record from its checkpoint without training again" in str(err.value)
    assert not record_path.exists()
    record = run_training(config, "faults", **kw)  # space again: the record comes from the checkpoint
    assert record["resumed_from_epoch"] == config.epochs and record_path.exists()


# 16 -----------------------------------------------------------------------------------------


def test_bad_yaml_in_a_parameter_names_it_without_a_traceback(capsys: pytest.CaptureFixture) -> None:
    assert main(["train", "-p", "model_kwargs", "{attn_position: [post"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: bad value for model_kwargs: '{attn_position: [post' is not valid YAML")
    assert "Traceback" not in err and len(err.splitlines()) == 1


@pytest.mark.parametrize("text,words", [
    ("presets:\n  p:\n    dataset: [cifar100\n", "is not valid YAML.*line 3"),
    ("presets:\n  p:\n    dataset: cifar100\n    groups:\n      - models: [resnet20]\n",
     "preset 'p', group 1 lacks 'experiment'"),
    ("presets:\n  p:\n    dataset: cifar100\n    groups:\n      - experiment: e\n        models: resnet20\n",
     "preset 'p', group 1 \\('e'\\): 'models' must be a list"),
    ("presets:\n  p:\n    groups: []\n", "preset 'p' needs 'dataset'"),
])
def test_a_bad_plan_file_names_the_file_preset_and_group(tmp_path: Path, text: str, words: str) -> None:
    (tmp_path / "plan.yaml").write_text(text)
    with pytest.raises(ValueError, match=f"plan file {tmp_path / 'plan.yaml'}.*{words}"):
        plan_runs("p", tmp_path / "plan.yaml")


def test_a_float_written_without_a_dot_is_read_as_a_number() -> None:
    assert yaml.safe_load("1e-3") == "1e-3"  # YAML 1.1: a string, not a number
    assert parse_run_parameters({"lr": yaml.safe_load("1e-3")}).config.lr == 0.001
    with pytest.raises(ValueError, match="bad value for lr: 'fast' \\(str\\); allowed: a number"):
        parse_run_parameters({"lr": "fast"})


@pytest.mark.parametrize("name,value,words", [
    ("seed", 2**64, "bad value for seed: 18446744073709551616; allowed: an integer in \\[0, 2\\*\\*32\\)"),
    ("seed", -1, "bad value for seed: -1"),
    ("device", "cuda:abc", "bad value for device: 'cuda:abc'.*'cuda:N'"),
])
def test_out_of_range_seed_and_bad_device_name_the_parameter(name: str, value, words: str) -> None:
    with pytest.raises(ValueError, match=words):
        parse_run_parameters({name: value})


def test_a_checkpoint_with_a_non_string_fingerprint_names_the_file(tmp_path: Path, folder: Path) -> None:
    import torch

    ckpt = tmp_path / "ckpt" / "good" / "faults" / "resnet20-default-s0.pt"
    ckpt.parent.mkdir(parents=True)
    torch.save({"fingerprint": 12345, "epoch": 1}, ckpt)
    with pytest.raises(CheckpointError, match=f"checkpoint {ckpt} cannot be read .*fingerprint.*restart True"):
        run_training(quick(f"folder:{folder}"), "faults", results_dir=tmp_path / "results",
                     checkpoint_dir=tmp_path / "ckpt", progress=False)
