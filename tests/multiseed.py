"""Fabricate multi-seed run records from the real ones, for testing statistics and chapters.

Real records exist for one seed only; :func:`fabricate_results` copies them into a temporary
results tree as seeds 0, 1, 2 of the experiments the study will use (``main`` and an ablation),
shifting each seed's top-1 by a known amount so the expected means and intervals are known.
"""

from __future__ import annotations

import copy
import json
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
SEED_SHIFTS = {0: 0.0, 1: 0.5, 2: 1.0}  # added to every model's top-1 for seed s
MODEL_SHIFT = {"resnet20": 0.0}  # others keep their real offset to resnet20 (seed 0) plus a seed term


def _source_records() -> list[dict]:
    paths = sorted((REPO / "results").rglob("*.json"))
    records = [json.loads(p.read_text()) for p in paths]
    if not records:
        raise FileNotFoundError("no real records under results/ to fabricate multi-seed records from")
    return records


def _reseed(record: dict, experiment: str, seed: int, shift: float, variant: str = "default") -> dict:
    r = copy.deepcopy(record)
    r["experiment"], r["variant"] = experiment, variant
    r["config"]["seed"] = seed
    model = r["config"]["model"]
    r["run"] = f"{model}-{variant}-s{seed}"
    r["final"]["test_top1"] = round(r["final"]["test_top1"] + shift, 4)
    if r["history"]:
        r["history"][-1]["test_top1"] = r["final"]["test_top1"]
    return r


def fabricate_results(root: Path) -> Path:
    """Write records for 3 seeds of ``main`` (all real models) and ``ablation_eca_k`` under ``root``.

    Top-1 of model m at seed s is its real seed-0 top-1 plus ``SEED_SHIFTS[s]`` plus, for the
    non-reference models, ``0.1 * s`` extra, so every graft's paired difference to resnet20 is
    (real difference) + 0.1 * mean(0, 1, 2) = real + 0.1 with a sample sd of 0.1 over seeds.
    """
    records = [r for r in _source_records() if r["experiment"] == "graftcheck"] or _source_records()
    for rec in records:
        model = rec["config"]["model"]
        for seed, shift in SEED_SHIFTS.items():
            extra = 0.0 if model == "resnet20" else 0.1 * seed
            r = _reseed(rec, "main", seed, shift + extra)
            out = root / r["dataset"] / "main" / f"{r['run']}.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(r))
    eca = next(r for r in records if r["config"]["model"] == "eca_resnet20")
    for variant, offset in {"adaptive": 0.0, "k5": -0.3, "k7": 0.2}.items():
        for seed, shift in SEED_SHIFTS.items():
            r = _reseed(eca, "ablation_eca_k", seed, shift + offset, variant)
            out = root / r["dataset"] / "ablation_eca_k" / f"{r['run']}.json"
            out.parent.mkdir(parents=True, exist_ok=True)
            out.write_text(json.dumps(r))
    return root
