"""``download: auto``: missing CIFAR is fetched where the network allows, else a clear error."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import asdict
from pathlib import Path

import pytest
import torchvision.datasets.utils

from cifarlib.data import DataNotFoundError, check_available, load_dataset, write_generated_cifar100
from cifarlib.engine import TrainConfig, config_fingerprint, same_config
from cifarlib.params import parse_run_parameters
from cifarlib.results import read_record
from cifarlib.runner import record_differences

REPO = Path(__file__).resolve().parent.parent


def fake_download(calls: list[str]):
    """A stand-in for torchvision's download_and_extract_archive: 'extracts' generated CIFAR-100
    files into the folder it is given, as the real archive would."""
    def download(url: str, download_root: str, filename: str | None = None, md5: str | None = None,
                 remove_finished: bool = False) -> None:
        calls.append(url)
        assert filename == "cifar-100-python.tar.gz" and md5  # torchvision's own archive and checksum
        write_generated_cifar100(download_root, train_per_class=3, test_per_class=1)
    return download


def test_default_is_auto_and_bad_values_name_the_choices() -> None:
    assert TrainConfig().download == "auto"
    assert parse_run_parameters({"download": True}).config.download is True
    assert parse_run_parameters({"download": False}).config.download is False
    with pytest.raises(ValueError, match="download.*'auto'"):
        parse_run_parameters({"download": "yes please"})
    with pytest.raises(ValueError, match="download"):
        parse_run_parameters({"download": 1})


def test_online_path_downloads_once_into_data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(torchvision.datasets.utils, "download_and_extract_archive", fake_download(calls))
    data = load_dataset("cifar100", tmp_path / "data")  # download defaults to auto
    assert data.name == "cifar100-generated" and len(data.train_y) == 300
    assert calls == [torchvision.datasets.CIFAR100.url]
    assert sorted(p.name for p in (tmp_path / "data").iterdir()) == ["cifar-100-python"]  # no staging left
    load_dataset("cifar100", tmp_path / "data", download=True)
    check_available("cifar100", tmp_path / "data")
    assert len(calls) == 1  # present: never fetched again


@pytest.mark.parametrize("download", ["auto", True])
def test_offline_path_fails_with_the_ways_to_get_the_data(tmp_path: Path, download) -> None:
    # conftest's autouse fixture makes torchvision's download fail as it does without a network
    with pytest.raises(DataNotFoundError) as err:
        load_dataset("cifar100", tmp_path / "data", download=download)
    message = str(err.value)
    assert "download failed" in message and "URLError" in message
    assert str((tmp_path / "data").resolve()) in message and "cifar10-jpeg.zip" in message
    assert not (tmp_path / "data" / "cifar-100-python").exists()
    assert not [p for p in (tmp_path / "data").iterdir()]  # the staging folder is gone


def test_download_false_never_fetches(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    monkeypatch.setattr(torchvision.datasets.utils, "download_and_extract_archive", fake_download(calls))
    with pytest.raises(DataNotFoundError, match="download is off"):
        check_available("cifar100", tmp_path, download=False)
    assert calls == []


@pytest.mark.slow
def test_cli_without_network_says_what_to_do_without_a_traceback(tmp_path: Path) -> None:
    # A real subprocess: its download fails (no network here; the unresolvable proxy makes sure).
    env = {"PATH": "/usr/bin:/bin", "HTTPS_PROXY": "http://127.0.0.1:9", "HTTP_PROXY": "http://127.0.0.1:9",
           "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    out = subprocess.run(
        [sys.executable, "-m", "cifarlib", "train", "-p", "data_root", str(tmp_path / "d"),
         "--runs-dir", str(tmp_path / "n"), "--results-dir", str(tmp_path / "r"),
         "--checkpoint-dir", str(tmp_path / "c")], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 2, out.stderr
    assert "Traceback" not in out.stderr and "download failed" in out.stderr
    assert not (tmp_path / "n").exists() and not (tmp_path / "d" / "cifar-100-python").exists()


def test_old_records_and_checkpoints_still_match() -> None:
    """Records and checkpoints written when ``download`` defaulted to False are the same run."""
    record = read_record(REPO / "results" / "cifar10-jpeg" / "main" / "resnet20-default-s0.json")
    assert record["config"]["download"] is False
    # the record predates tta: it was scored without TTA, the value its plan pins (tta: none)
    config = TrainConfig(**{k: v for k, v in record["config"].items() if k != "download"}, tta="none")
    assert config.download == "auto"
    assert record_differences(record, asdict(config), record["identity"]["data_fingerprint"]) == []
    flip = TrainConfig(**{**asdict(config), "tta": "flip"})
    assert record_differences(record, asdict(flip), record["identity"]["data_fingerprint"]) == [
        "tta: '<absent>' -> 'flip'"]
    old_fingerprint = json.dumps({**json.loads(config_fingerprint(config)), "download": False}, sort_keys=True)
    assert same_config(old_fingerprint, config)
    assert not same_config(json.dumps({**json.loads(old_fingerprint), "lr": 0.5}), config)


def test_sweep_downloads_once_before_its_runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from cifarlib.sweep import prepare_data

    plan = tmp_path / "plan.yaml"
    plan.write_text(f"""presets:
  online:
    dataset: cifar100
    data_root: {tmp_path / 'data'}
    settings: {{epochs: 1}}
    groups:
      - {{experiment: a, models: [resnet20, eca_resnet20], seeds: [0, 1]}}
""")
    prepare_data("online", plan, download=False)  # a dry run fetches nothing
    assert not (tmp_path / "data").exists()
    calls: list[str] = []
    monkeypatch.setattr(torchvision.datasets.utils, "download_and_extract_archive", fake_download(calls))
    prepare_data("online", plan)
    assert len(calls) == 1 and (tmp_path / "data" / "cifar-100-python" / "train").exists()
