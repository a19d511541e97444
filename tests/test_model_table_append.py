"""`python -m cifarlib models --only NAME --append FILE`: one model's row added to a committed
model table without re-measuring the others (profile.append_model_rows)."""

from __future__ import annotations

import io
from pathlib import Path

import pandas as pd
import pytest

from cifarlib.profile import MODEL_TABLE_COLUMNS, append_model_rows, format_model_table

TABLE = pd.DataFrame([["resnet20", "backbone", "ResNet", 0.278, 0.082, 1062.387],
                      ["eca_resnet20", "graft", "ECA-Net", 0.278, 0.082, 900.5]], columns=list(MODEL_TABLE_COLUMNS))


def _read(path: Path) -> pd.DataFrame:
    return pd.read_csv(io.StringIO(path.read_text()), sep=r"\s+", comment="#")


def _committed(tmp_path: Path) -> Path:
    path = tmp_path / "models_cpu.txt"
    path.write_text("# throughput measured on CPU X (1 threads), torch 0\n" + format_model_table(TABLE) + "\n")
    return path


def test_a_new_row_goes_last_and_the_others_stay(tmp_path: Path) -> None:
    path = _committed(tmp_path)
    row = pd.DataFrame([["toy_resnet20", "graft", "ToyNet", 0.279, 0.083, 800.0]], columns=list(MODEL_TABLE_COLUMNS))
    append_model_rows(path, row, "toy_resnet20: throughput measured on CPU Y")
    table = _read(path)
    assert list(table["model"]) == ["resnet20", "eca_resnet20", "toy_resnet20"]
    assert table["images_per_s"].tolist() == [1062.387, 900.5, 800.0]
    assert path.read_text().splitlines()[:2] == ["# throughput measured on CPU X (1 threads), torch 0",
                                                 "# toy_resnet20: throughput measured on CPU Y"]


def test_a_measured_model_replaces_its_row_in_place(tmp_path: Path) -> None:
    path = _committed(tmp_path)
    row = TABLE.iloc[[0]].assign(images_per_s=1000.0)
    append_model_rows(path, row, "resnet20 again")
    table = _read(path)
    assert list(table["model"]) == ["resnet20", "eca_resnet20"] and table["images_per_s"].tolist() == [1000.0, 900.5]


def test_bad_tables_and_rows_fail_by_name(tmp_path: Path) -> None:
    path = tmp_path / "other.txt"
    path.write_text("a b\n1 2\n")
    with pytest.raises(ValueError, match="not a model table"):
        append_model_rows(path, TABLE, "x")
    with pytest.raises(ValueError, match="lack.*images_per_s.*--no-throughput"):
        append_model_rows(tmp_path / "new.txt", TABLE.drop(columns="images_per_s"), "x")
    with pytest.raises(ValueError, match="whitespace"):
        append_model_rows(tmp_path / "new.txt", TABLE.assign(method="Two Words"), "x")
    assert not (tmp_path / "new.txt").exists()


def test_the_command_line_appends_one_measured_row(tmp_path: Path) -> None:
    from cifarlib.__main__ import main

    path = _committed(tmp_path)
    assert main(["models", "--only", "resnet20", "--no-throughput", "--append", str(path)]) == 2  # needs timing
    assert main(["models", "--only", "no_such_model", "--append", str(path)]) == 2
    assert main(["models", "--only", "resnet32", "--seconds", "0.05", "--append", str(path)]) == 0
    table = _read(path)
    assert list(table["model"]) == ["resnet20", "eca_resnet20", "resnet32"] and table["images_per_s"].iloc[-1] > 0
