"""Project files agree with each other: README commands, CI, pyproject and environment.yml."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent


def test_readme_starts_with_the_two_commands_and_ci_calls_the_test_one() -> None:
    readme = (REPO / "README.md").read_text()
    blocks = re.findall(r"```(?:bash|sh)?\n(.*?)```", readme, re.S)
    first = [line.split("#")[0].strip() for line in blocks[0].splitlines() if line.strip()]
    assert first == ["make book", "make test"], first
    ci = (REPO / ".ci" / "run").read_text()
    assert re.search(r"^make test$", ci, re.M)


def test_environment_yml_installs_the_package_from_pyproject() -> None:
    env = yaml.safe_load((REPO / "environment.yml").read_text())
    pip = [d for d in env["dependencies"] if isinstance(d, dict)][0]["pip"]
    assert pip == ["-e .[book,test]"]
    py = [d for d in env["dependencies"] if isinstance(d, str) and d.startswith("python")]
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    minimum = project["requires-python"].removeprefix(">=")
    assert py and tuple(map(int, py[0].split("=")[1].split("."))) >= tuple(map(int, minimum.split(".")))
    # tensorboard and onnx are opt-in (-p tensorboard true, export --onnx): not in the environment
    assert set(project["optional-dependencies"]) == {"book", "test", "tensorboard", "onnx"}


def test_torch_is_not_pinned_above_the_local_wheels() -> None:
    project = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]
    torch_specs = [d for d in project["dependencies"] if d.startswith("torch")]
    assert all("==" not in s and "<" not in s.replace("<=2.14.1", "") for s in torch_specs)
    assert "torch==2.14.1" in (REPO / "Makefile").read_text()


def test_book_config_is_the_top_level_one() -> None:
    for name in ("_config.yml", "_toc.yml"):
        link = REPO / "book" / name
        assert link.is_symlink() and link.resolve() == (REPO / name).resolve()
    config = yaml.safe_load((REPO / "_config.yml").read_text())
    assert config["sphinx"]["config"]["html_search_language"] == "zh"


def test_no_committed_record_or_run_notebook_holds_an_absolute_machine_path() -> None:
    import re
    import subprocess

    pattern = re.compile(r"[\"'](?:/home|/work|/root|/Users|/tmp|[A-Z]:\\\\)[/\\\\]")
    tracked = subprocess.run(["git", "ls-files", "results", "book/runs", "notebooks"], cwd=REPO, text=True,
                             capture_output=True, check=True).stdout.split()
    offenders = [p for p in tracked if p.endswith((".json", ".ipynb")) and pattern.search((REPO / p).read_text())]
    assert not offenders, f"absolute machine paths in {offenders[:5]}"
