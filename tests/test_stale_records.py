"""A record is done only if it is the run the plan asks for.

A changed preset (``epochs`` 1 -> 2), a tiny test run filed under the plan's experiment name, or
other data under the same data set name leave records that are not the planned runs: the sweep
names each stale run and what differs, runs nothing and exits non-zero, unless
``--overwrite-stale``; ``--dry-run`` reports the same.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import yaml

from cifarlib import sweep
from cifarlib.__main__ import main
from cifarlib.data import write_generated_cifar100
from cifarlib.paths import atomic_write, remove_orphan_temporaries
from cifarlib.runner import run_training
from cifarlib.sweep import StaleRecordsError, plan_runs, run_sweep

SETTINGS = {"epochs": 1, "batch_size": 100, "lr": 0.05, "amp": "off", "channels_last": "off"}


def write_plan(tmp_path: Path, data_root: Path, **settings) -> Path:
    plan = {"presets": {"p": {"dataset": "cifar100", "data_root": str(data_root),
                              "settings": {**SETTINGS, **settings},
                              "groups": [{"experiment": "e", "models": ["eca_resnet8"], "seeds": [0]}]}}}
    path = tmp_path / "plan.yaml"
    path.write_text(yaml.safe_dump(plan))
    return path


@pytest.fixture()
def finished(tmp_path: Path, generated_root: Path) -> dict:
    """A plan whose one run has a record, trained in this process."""
    plan = write_plan(tmp_path, generated_root)
    dirs = dict(results_dir=tmp_path / "r", checkpoint_dir=tmp_path / "c", runs_dir=tmp_path / "n")
    (run,) = plan_runs("p", plan)
    run_training(run.config, "e", results_dir=dirs["results_dir"], checkpoint_dir=dirs["checkpoint_dir"],
                 progress=False, log=lambda *_: None)
    return {"plan": plan, "dirs": dirs, "root": generated_root}


def test_an_unchanged_plan_skips_its_record(finished: dict) -> None:
    said: list[str] = []
    assert run_sweep("p", finished["plan"], dry_run=True, log=said.append, **finished["dirs"]) == []
    assert any("same config and data" in line for line in said)


@pytest.mark.parametrize("change,expected", [
    ({"epochs": 2}, "epochs: 1 -> 2"),
    ({"lr": 0.2}, "lr: 0.05 -> 0.2"),
    ({"train_subset": 500}, "train_subset: 0 -> 500"),  # a tiny run filed under the study's name
])
def test_a_changed_plan_reports_stale_records_and_runs_nothing(finished: dict, tmp_path: Path,
                                                              change: dict, expected: str) -> None:
    write_plan(tmp_path, finished["root"], **change)
    with pytest.raises(StaleRecordsError) as err:
        run_sweep("p", finished["plan"], dry_run=True, log=lambda *_: None, **finished["dirs"])
    text = str(err.value)
    assert "e/eca_resnet8-default-s0" in text and expected in text
    assert "--overwrite-stale" in text and "another experiment name" in text


def test_other_data_under_the_same_name_is_stale(finished: dict, tmp_path: Path) -> None:
    other = tmp_path / "other-data"
    write_generated_cifar100(other, train_per_class=10, test_per_class=4, seed=1)
    write_plan(tmp_path, other)
    with pytest.raises(StaleRecordsError, match="data fingerprint"):
        run_sweep("p", finished["plan"], dry_run=True, log=lambda *_: None, **finished["dirs"])


def test_the_cli_exits_non_zero_naming_the_stale_runs(finished: dict, tmp_path: Path, capsys) -> None:
    write_plan(tmp_path, finished["root"], epochs=2)
    dirs = [a for k, v in finished["dirs"].items() for a in (f"--{k.replace('_', '-')}", str(v))]
    assert main(["sweep", "p", "--plan", str(finished["plan"]), "--dry-run", *dirs]) == 2
    err = capsys.readouterr().err
    assert "stale" in err and "epochs: 1 -> 2" in err


def test_overwrite_stale_trains_the_stale_run_again(finished: dict, tmp_path: Path,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    write_plan(tmp_path, finished["root"], epochs=2)
    calls: list[dict] = []
    monkeypatch.setattr(sweep, "execute_train_notebook", lambda params, *a: calls.append(params))
    done = run_sweep("p", finished["plan"], overwrite_stale=True, log=lambda *_: None, **finished["dirs"])
    assert len(done) == 1 and calls[0]["overwrite"] is True and calls[0]["epochs"] == 2


def test_partial_files_of_killed_writes_are_removed(tmp_path: Path) -> None:
    dead = os.fork()
    if dead == 0:
        os._exit(0)
    os.waitpid(dead, 0)
    orphan = tmp_path / "e" / f".run.json.tmp{dead}"
    orphan.parent.mkdir()
    orphan.write_text("{")
    live = tmp_path / "e" / f".other.json.tmp{os.getpid()}"
    live.write_text("{")
    atomic_write(tmp_path / "e" / "ok.json", lambda tmp: tmp.write_text("{}"))
    assert remove_orphan_temporaries(tmp_path, log=lambda *_: None) == [orphan]
    assert live.exists() and (tmp_path / "e" / "ok.json").exists()


def test_the_book_refuses_an_experiment_that_mixes_budgets(tmp_path: Path) -> None:
    """A 1-epoch 2k-image run filed beside 4-epoch full-data runs: load_runs names it."""
    import json
    import shutil

    from cifarlib.results import MixedBudgetError, load_runs

    source = Path(__file__).resolve().parent.parent / "results" / "cifar10-jpeg" / "main"
    target = tmp_path / "cifar10-jpeg" / "main"
    target.mkdir(parents=True)
    for name in ("resnet20-default-s0.json", "resnet20-default-s1.json"):
        shutil.copy(source / name, target / name)
    assert len(load_runs(tmp_path)) == 2
    tiny = json.loads((target / "resnet20-default-s1.json").read_text())
    tiny["config"]["epochs"], tiny["data"]["train_images"] = 1, 2000
    tiny["history"] = tiny["history"][:1]
    (target / "resnet20-default-s1.json").write_text(json.dumps(tiny))
    with pytest.raises(MixedBudgetError, match=r"cifar10-jpeg/main mixes 2 training budgets") as err:
        load_runs(tmp_path)
    assert "resnet20-default-s1.json" in str(err.value) and "--overwrite-stale" in str(err.value)


def test_every_committed_record_is_the_run_its_plan_asks_for(monkeypatch: pytest.MonkeyPatch) -> None:
    """The plan and the committed records agree: no preset calls a committed record stale.
    Records from before a field existed match through the value it implicitly had (``tta:
    none``), and the boolean ``channels_last`` of the oldest records reads as on/off. Configs
    only (the data are checked by fingerprint where the sweep can load them)."""
    monkeypatch.setattr(sweep, "planned_data_fingerprint", lambda config, log=print: None)
    from cifarlib.sweep import load_plan

    repo = Path(__file__).resolve().parent.parent
    for preset in load_plan():
        run_sweep(preset, dry_run=True, log=lambda *_: None, results_dir=repo / "results",
                  checkpoint_dir=repo / "checkpoints", runs_dir=repo / "book" / "runs")
