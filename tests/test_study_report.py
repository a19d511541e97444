"""The study chapters' helpers on synthetic records: missing runs, ablations, per class, efficiency."""

from __future__ import annotations

import base64
import math

import matplotlib
import numpy as np
import pandas as pd
import pytest

matplotlib.use("Agg")

from cifarlib.report import (ablations, autotune_file, bench_header, depthwise_file, efficiency, inference_file,  # noqa: E402
                             overview, per_class_accuracy, profile_file, study_plan, superclasses, tables)
from cifarlib.report.ablations import Ablation, Arm  # noqa: E402
from cifarlib.results import unpack_bits  # noqa: E402


def _run(experiment: str, model: str, variant: str, seed: int, top1: float) -> dict:
    return {"dataset": "d", "experiment": experiment, "model": model, "variant": variant, "seed": seed,
            "test_top1": top1, "params_m": 0.27, "gflops": 0.08, "train_images_per_s": 100.0 + seed}


def _detail(experiment: str, model: str, variant: str, seed: int, correct: np.ndarray, **extra) -> dict:
    return {"dataset": "d", "experiment": experiment, "model": model, "variant": variant, "seed": seed,
            "classes": ["a", "b"], "confusion": None, "correct": correct, **extra}


ABL = Ablation("x", "X", Arm("main", "base", "default", "参考"), (Arm("abl", "base", "v1", "v1"),
                                                                     Arm("abl", "base", "v2", "v2")))


def _ablation_data() -> tuple[pd.DataFrame, list[dict]]:
    # reference 70, 71, 72; v1 = reference + 1, 2, 3 (mean +2, sd 1); v2 has no records
    runs = [_run("main", "base", "default", s, 70.0 + s) for s in range(3)]
    runs += [_run("abl", "base", "v1", s, 71.0 + 2 * s) for s in range(3)]
    runs.append(_run("main", "other", "default", 0, 50.0))
    n = 1000
    ref_bits = np.zeros(n, dtype=bool)
    ref_bits[:700] = True
    arm_bits = ref_bits.copy()
    arm_bits[700:720] = True  # 2 points better on every image set
    details = [_detail("main", "base", "default", s, ref_bits) for s in range(3)]
    details += [_detail("abl", "base", "v1", s, arm_bits) for s in range(3)]
    return pd.DataFrame(runs), details


def test_ablation_table_paired_interval_and_bootstrap() -> None:
    runs, details = _ablation_data()
    table = ablations.ablation_table(runs, details, ABL, resamples=500)
    assert list(table["role"]) == ["reference", "arm"]  # v2 has no records: no row
    ref, arm = table.iloc[0], table.iloc[1]
    assert ref["top1"] == pytest.approx(71.0) and ref["top1_sd"] == pytest.approx(1.0)
    assert arm["diff"] == pytest.approx(2.0) and arm["pairs"] == 3
    half = 4.302653 * 1.0 / math.sqrt(3)  # t_{0.975, 2} * sd / sqrt(n)
    assert arm["ci_low"] == pytest.approx(2.0 - half, abs=1e-4)
    assert arm["ci_high"] == pytest.approx(2.0 + half, abs=1e-4)
    assert not arm["significant"] and "跨过 0" in arm["verdict"]
    assert arm["boot_low"] <= 2.0 <= arm["boot_high"]  # per-image difference is exactly 2 points
    shown = ablations.ablation_display(table)
    assert list(shown.columns)[:3] == ["设置", "种子数", "top-1 (%)"]
    assert shown.iloc[0, 0] == "参考（参考）" and shown.iloc[1, 2] == "73.00 ± 2.00"
    assert shown.iloc[1, 3] == "+2.00" and shown.iloc[0, 3] == "—"
    assert shown["结论"].tolist() == ["参考", "跨过 0"]
    sentence = ablations.ablation_sentence(table, "参考")
    assert "跨过 0" in sentence and "更高" not in sentence and "高 " not in sentence


def test_ablation_sentence_only_calls_a_difference_when_the_interval_excludes_zero() -> None:
    runs, details = _ablation_data()
    runs.loc[(runs["variant"] == "v1"), "test_top1"] = [72.0, 73.1, 73.9]  # +2, +2.1, +1.9
    table = ablations.ablation_table(runs, details, ABL, resamples=200)
    assert table.iloc[1]["significant"] and table.iloc[1]["verdict"] == "显著更高"
    assert "比参考高 2.00 个百分点" in ablations.ablation_sentence(table, "参考")


def test_ablation_without_reference_or_arms_says_so() -> None:
    runs, details = _ablation_data()
    assert "还没有记录" in ablations.ablation_sentence(ablations.ablation_table(runs.iloc[:0], [], ABL), "参考")
    only_ref = runs[runs["experiment"] == "main"]
    assert "还没有任何记录" in ablations.ablation_sentence(ablations.ablation_table(only_ref, details, ABL), "参考")


def test_one_shared_seed_gives_no_interval() -> None:
    runs, details = _ablation_data()
    runs = runs[~((runs["variant"] == "v1") & (runs["seed"] > 0))]
    table = ablations.ablation_table(runs, details, ABL, resamples=100)
    assert math.isnan(table.iloc[1]["ci_low"]) and table.iloc[1]["pairs"] == 1
    assert "不下结论" in ablations.ablation_sentence(table, "参考")
    assert tables.format_interval(float("nan"), 1.0) == "—"


def test_study_ablations_name_planned_arms() -> None:
    planned = study_plan.planned_runs("study")
    keys = set(map(tuple, planned[["experiment", "model", "variant"]].itertuples(index=False)))
    for ablation in ablations.STUDY_ABLATIONS:
        for arm in (ablation.reference, *ablation.arms):
            assert (arm.experiment, arm.model, arm.variant) in keys, arm


def test_missing_runs_and_text() -> None:
    planned = pd.DataFrame([{"experiment": e, "model": "m", "variant": "default", "seed": s}
                            for e in ("main", "abl") for s in range(3)])
    runs = pd.DataFrame([_run("main", "m", "default", s, 70.0) for s in (0, 2)])
    missing = study_plan.missing_runs(runs, planned)
    assert list(map(tuple, missing[["experiment", "seed"]].itertuples(index=False))) == [
        ("main", 1), ("abl", 0), ("abl", 1), ("abl", 2)]
    summary = study_plan.missing_summary(missing)
    assert list(summary["缺少的种子"]) == ["1", "0, 1, 2"]
    text = study_plan.missing_text(missing, planned)
    assert "6 个运行里还有 **4 个尚未完成**" in text and "`abl` 缺 3 个" in text
    assert study_plan.missing_text(missing, planned, ["zzz"]).startswith("计划中的 0 个运行已全部完成")
    assert len(study_plan.missing_runs(pd.DataFrame(), planned)) == 6


def test_unpack_bits_round_trip() -> None:
    bits = np.array([1, 0, 1, 1, 0, 0, 0, 1, 1, 1, 0], dtype=np.uint8)
    packed = {"images": len(bits), "bits": base64.b64encode(np.packbits(bits).tobytes()).decode()}
    assert unpack_bits(packed).tolist() == bits.astype(bool).tolist()


CONFUSION = np.array([[8, 1, 1, 0],   # a: 80 %
                      [3, 6, 0, 1],   # b: 60 %
                      [0, 0, 9, 1],   # c: 90 %
                      [0, 2, 4, 4]])  # d: 40 %
CLASSES = ["a", "b", "c", "d"]


def test_class_accuracy_and_confused_pairs() -> None:
    assert per_class_accuracy.class_accuracy(CONFUSION).tolist() == [80.0, 60.0, 90.0, 40.0]
    pairs = per_class_accuracy.confused_pairs(CONFUSION, CLASSES, top=2)
    assert list(zip(pairs["a"], pairs["b"], pairs["total"])) == [("a", "b", 4), ("c", "d", 5)][::-1]
    assert pairs.iloc[0]["a_as_b"] == 1 and pairs.iloc[0]["b_as_a"] == 4
    assert pairs.iloc[0]["share"] == pytest.approx(25.0)


def test_per_class_means_and_summed_confusion() -> None:
    other = CONFUSION[::-1, ::-1]
    details = [_detail("main", "m", "default", 0, None, confusion=CONFUSION),
               _detail("main", "m", "default", 1, None, confusion=other),
               _detail("abl", "m", "v", 0, None, confusion=other)]
    for d in details:
        d["classes"] = CLASSES
    table = per_class_accuracy.per_class_means(details)
    assert table.loc["a", "m"] == pytest.approx((80 + 40) / 2) and table.attrs["seeds"] == {"m": 2}
    total, classes, seeds = per_class_accuracy.summed_confusion(details, "main", "m")
    assert seeds == 2 and classes == CLASSES and total.sum() == 80
    assert per_class_accuracy.summed_confusion(details, "main", "x")[0] is None
    assert per_class_accuracy.chinese_class("cat") == "猫" and per_class_accuracy.chinese_class("apple") == "apple"


def test_cifar100_superclasses_are_the_standard_table() -> None:
    mapping = superclasses.cifar100_fine_to_coarse()
    assert len(mapping) == 100 and len(superclasses.CIFAR100_SUPERCLASSES) == 20
    assert all(len(v) == 5 for v in superclasses.CIFAR100_SUPERCLASSES.values())
    coarse = superclasses.cifar100_coarse_indices()
    # fine labels 0-4 (apple, aquarium_fish, baby, bear, beaver) and 99 (worm) of the data set
    assert coarse[:5] == [4, 1, 14, 8, 0] and coarse[99] == 13
    assert set(superclasses.CIFAR100_SUPERCLASS_CHINESE) == set(superclasses.CIFAR100_SUPERCLASSES)


def test_superclass_grouping_on_a_synthetic_confusion_matrix() -> None:
    mapping = {"a": "X", "b": "X", "c": "Y", "d": "Y"}
    matrix, names = superclasses.superclass_confusion(CONFUSION, CLASSES, mapping)
    assert names == ["X", "Y"]
    assert matrix.tolist() == [[18, 2], [2, 18]]
    table = superclasses.superclass_table(CONFUSION, CLASSES, mapping).set_index("superclass")
    assert table.loc["X", "fine_accuracy"] == pytest.approx(70.0)
    assert table.loc["X", "coarse_accuracy"] == pytest.approx(90.0)
    assert table.loc["X", "errors_within"] == pytest.approx(100 * 4 / 6)
    assert table.loc["Y", "errors_within"] == pytest.approx(100 * 5 / 7)
    with pytest.raises(ValueError):
        superclasses.superclass_confusion(CONFUSION, CLASSES[:3], mapping)
    with pytest.raises(KeyError):
        superclasses.superclass_confusion(CONFUSION, CLASSES, {"a": "X"})
    # the real 100-class table: an identity confusion matrix stays on the diagonal
    fine = sorted(superclasses.cifar100_fine_to_coarse())
    m, coarse = superclasses.superclass_confusion(np.eye(100, dtype=int) * 100, fine)
    assert m.shape == (20, 20) and np.all(np.diag(m) == 500)


AUTOTUNE = """# python benchmarks/autotune_table.py --steps 3  (1 thread)
# AMD EPYC (1 threads), torch 2, batch 64, 10 classes; seconds per training step (median of 3)
model                            fp32/NCHW  fp32/channels_last           bf16/NCHW  bf16/channels_last                chosen   img/s  fwd GFLOP/s
resnet20                             0.500               0.400               0.250               0.200    bf16/channels_last     320         26.2
slow                                 1.000               0.800               1.250               1.000    fp32/channels_last      80          8.0
"""


def test_parse_autotune_table_and_policy_effect() -> None:
    table = autotune_file.parse_autotune_table(AUTOTUNE)
    assert list(table["model"]) == ["resnet20", "slow"]
    assert table.attrs["candidates"] == ["fp32/NCHW", "fp32/channels_last", "bf16/NCHW", "bf16/channels_last"]
    assert table.loc[1, "chosen"] == "fp32/channels_last" and table.loc[0, "fwd_gflop_per_s"] == 26.2
    conditions = autotune_file.autotune_conditions(table.attrs["comments"], "bench.txt")
    assert conditions == bench_header.BenchConditions(cpu="AMD EPYC", threads=1, torch="2", batch_size=64, steps=3)
    assert autotune_file.policy_axes_phrase(table.attrs["candidates"]) == "fp32 / bf16 精度 × NCHW / channels_last 内存格式"
    effect = autotune_file.policy_effect(table).set_index("model")
    assert effect.loc["resnet20", "bf16/channels_last"] == pytest.approx(2.5)
    assert effect.loc["slow", "bf16/NCHW"] == pytest.approx(0.8) and effect.loc["slow", "best"] == pytest.approx(1.25)
    with pytest.raises(ValueError):
        autotune_file.parse_autotune_table("# only a comment\n")
    with pytest.raises(ValueError):
        autotune_file.parse_autotune_table(AUTOTUNE + "broken 1.0\n")


def test_parse_the_committed_benchmark() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "benchmarks" / "results" / "autotune_cpu.txt").read_text()
    table = autotune_file.parse_autotune_table(text)
    assert "resnet20" in set(table["model"]) and table["images_per_s"].gt(0).all()
    conditions = autotune_file.autotune_conditions(table.attrs["comments"], "autotune_cpu.txt")
    header = next(line for line in text.splitlines() if "seconds per training step" in line)
    assert f"{conditions.cpu} ({conditions.threads} threads), torch {conditions.torch}, batch {conditions.batch_size}," in header
    assert header.endswith(f"(median of {conditions.steps})") and conditions.batch_size > 0
    assert autotune_file.policy_axes_phrase(table.attrs["candidates"]).count("×") == 1


def test_autotune_header_missing_or_malformed_names_the_file_and_the_fix() -> None:
    body = AUTOTUNE.split("\n", 2)[2]  # the table without its two comment lines
    for text in (body, "# AMD EPYC (1 threads), torch 2, batch many, 10 classes; seconds per training step\n" + body):
        table = autotune_file.parse_autotune_table(text, "bench.txt")
        with pytest.raises(bench_header.BenchHeaderError, match=r"bench\.txt: .*autotune_table\.py"):
            autotune_file.autotune_conditions(table.attrs["comments"], "bench.txt")
    with pytest.raises(ValueError, match="bench.txt is not an autotune table"):
        autotune_file.parse_autotune_table("# only a comment\n", "bench.txt")
    with pytest.raises(ValueError, match="precision/format"):
        autotune_file.policy_axes_phrase(["fp32"])
    with pytest.raises(ValueError, match="not every precision"):
        autotune_file.policy_axes_phrase(["fp32/NCHW", "bf16/channels_last"])


def test_record_policy_effect_counts_a_cached_copy_once_and_record_machines() -> None:
    measured = {"fp32/NCHW": 0.6, "bf16/channels_last": 0.3}  # x2.0
    other = {"fp32/NCHW": 0.8, "bf16/channels_last": 0.2}  # x4.0
    policy = {"precision": "bf16", "channels_last": True}
    details = [_detail("main", "m", "default", s, None, device="AMD EPYC (1 threads)",
                       execution_policy={**policy, "seconds_per_step": steps})
               for s, steps in enumerate([measured, measured, measured, other])]
    effect = autotune_file.record_policy_effect(details).set_index("model")
    # three runs share one measurement (cached copies): the median is over {2, 4}, not {2, 2, 2, 4}
    assert (effect.loc["m", "runs"], effect.loc["m", "measurements"]) == (4, 2)
    assert effect.loc["m", "speedup"] == pytest.approx(3.0)
    details.append(_detail("main", "g", "default", 0, None, device="NVIDIA H200"))
    details.append(_detail("other", "m", "default", 0, None, device="Intel Xeon (2 threads)"))
    assert efficiency.record_machines(details) == ["AMD EPYC、1 个线程", "NVIDIA H200"]
    assert efficiency.record_machines(details, "other") == ["Intel Xeon、2 个线程"]
    assert efficiency.record_machines([]) == []


def test_record_policy_effect_and_efficiency_table() -> None:
    steps = {"fp32/NCHW": 0.6, "fp32/channels_last": 0.5, "bf16/NCHW": 0.4, "bf16/channels_last": 0.3}
    nchw = {**steps, "bf16/NCHW": 0.3, "bf16/channels_last": 0.35}  # seed 2 measured again: bf16/NCHW won
    details = [_detail("main", "resnet20", "default", s, None,
                       execution_policy={"precision": "bf16", "channels_last": s != 2,
                                         "seconds_per_step": nchw if s == 2 else steps})
               for s in range(3)]
    effect = autotune_file.record_policy_effect(details).set_index("model")
    assert effect.loc["resnet20", "runs"] == 3 and effect.loc["resnet20", "speedup"] == pytest.approx(2.0)
    assert effect.loc["resnet20", "measurements"] == 2
    assert effect.loc["resnet20", "policies"] == "bf16/NCHW、bf16/channels_last"
    assert autotune_file.record_policy_effect([]).empty

    runs = pd.DataFrame([_run("main", "resnet20", "default", s, 70.0) for s in range(3)])
    autotune = autotune_file.parse_autotune_table(AUTOTUNE)
    inference = pd.DataFrame({"model": ["slow"], "params_m": [0.3], "gflops": [0.1], "images_per_s": [500.0]})
    table = efficiency.efficiency_table(runs, autotune, inference).set_index("model")
    assert table.loc["resnet20", "record_images_per_s"] == pytest.approx(101.0)
    assert (table.loc["resnet20", "record_min"], table.loc["resnet20", "record_max"]) == (100.0, 102.0)
    assert table.loc["resnet20", "bench_gflop_per_s"] == pytest.approx(320 * 0.08)
    assert table.loc["slow", "inference_gflop_per_s"] == pytest.approx(50.0)
    assert math.isnan(table.loc["slow", "record_images_per_s"])


def test_study_figures_draw() -> None:
    import matplotlib.pyplot as plt

    from cifarlib.report import plots

    runs, details = _ablation_data()
    fig = plots.ablation_interval_plot(ablations.ablation_table(runs, details, ABL, resamples=100), "参考")
    labels = [t.get_text() for t in fig.axes[0].get_yticklabels()]
    assert labels == ["v1（3 对）"]
    assert any(t.get_text() == "+2.00" for t in fig.axes[0].texts)
    plt.close(fig)
    fig = plots.confusion_heatmap(CONFUSION, ["甲", "乙", "丙", "丁"], "测试")
    assert "8" in [t.get_text() for t in fig.axes[0].texts]
    plt.close(fig)
    table = pd.DataFrame({"m1": [80.0, 60.0], "m2": [70.0, 65.0]}, index=["猫", "狗"])
    plt.close(plots.per_class_plot(table))
    eff = efficiency.efficiency_table(pd.DataFrame([_run("main", "resnet20", "default", 0, 70.0)]),
                                  autotune_file.parse_autotune_table(AUTOTUNE))
    fig = plots.throughput_plot(eff, "bench_images_per_s", "bench_gflop_per_s", "训练吞吐")
    assert "320" in [t.get_text() for t in fig.axes[0].texts]
    plt.close(fig)
    fig = plots.policy_plot(autotune_file.policy_effect(autotune_file.parse_autotune_table(AUTOTUNE)))
    assert any("×2.50" in t.get_text() for t in fig.axes[0].texts)
    plt.close(fig)


def test_study_runs_picks_one_data_set_and_main_ablation_lists_models() -> None:
    runs, _ = _ablation_data()
    runs = pd.concat([runs, pd.DataFrame([dict(_run("main", "base", "default", 0, 1.0), dataset="x-generated"),
                                          dict(_run("other", "base", "default", 0, 1.0))])])
    planned = pd.DataFrame({"experiment": ["main", "abl"]})
    study = study_plan.study_runs(runs, planned)
    assert set(study["dataset"]) == {"d"} and set(study["experiment"]) == {"main", "abl"}
    ablation = ablations.main_ablation(study, reference="base")
    assert ablation.reference == Arm("main", "base", "default", "base") and [a.model for a in ablation.arms] == ["other"]
    ablation = ablations.main_ablation(study, reference="other")
    assert [a.model for a in ablation.arms] == ["base"]
    iso = ablations.main_ablation(study, reference="other", experiment="abl", reference_experiment="main")
    # abl records base only as v1: the headline takes a model's only variant (as main_iso_e10's ConvNeXt ls1)
    assert iso.reference.experiment == "main" and [a.variant for a in iso.arms] == ["v1"]
    assert study_plan.study_runs(pd.DataFrame(), planned).empty


def test_parse_profile_reads_the_committed_benchmark() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "benchmarks" / "results" / "profile_grafts_cpu.txt").read_text()
    table = profile_file.parse_profile(text).set_index("model")
    assert {"resnet20", "msca_resnet20", "lsk_resnet20", "coat_resnet20", "hor_resnet20"} <= set(table.index)
    assert table.loc["resnet20", "depthwise_share"] == 0
    assert table.loc["msca_resnet20", "depthwise_share"] > 50
    assert table.loc["msca_resnet20", "dense_gflops_per_s"] > 5 * table.loc["msca_resnet20", "depthwise_gflops_per_s"]
    conditions = profile_file.profile_conditions(text, "profile_grafts_cpu.txt")
    assert f"# {conditions.cpu}, torch {conditions.torch}, {conditions.threads} thread(s), " in text
    assert f"--steps {conditions.steps}" in text and f"(batch {conditions.batch_size})" in text
    assert conditions.policy in ("fp32/NCHW", "fp32/channels_last", "bf16/NCHW", "bf16/channels_last")
    ops = profile_file.parse_profile_ops(text)
    assert set(ops["model"]) == set(table.index)
    # the BN + GELU share of the CoAtNet graft, summed here from its own section's lines
    section = text.split("## coat_resnet20:")[1].split("## ")[0]
    names = profile_file.BN_OPS + profile_file.GELU_OPS
    by_hand = sum(float(line.split()[-1].rstrip("%")) for line in section.splitlines()
                  if line.split() and line.split()[0] in names)
    assert profile_file.op_share(ops, "coat_resnet20", names) == pytest.approx(by_hand) and by_hand > 0
    assert f"约 {by_hand:.0f}%" in profile_file.elementwise_sentence(ops, "coat_resnet20", "resnet20")
    assert profile_file.depthwise_models(table.reset_index())[:2] == ["msca_resnet20", "lsk_resnet20"]


PROFILE = """# OMP_NUM_THREADS=1 python benchmarks/profile_grafts.py --steps 5, on a quiet machine
# Some CPU, torch 2.9, 2 thread(s), fp32 NCHW

## ref: 100 ms per step (batch 16), 160 images/s
op (self time)                                ms/step  share
aten::convolution_backward                       50.0  50.0%
aten::native_batch_norm                          10.0  10.0%
aten::native_batch_norm_backward                  8.0   8.0%
depthwise convs      0.0 ms/step ( 0.0% of the step),   0.00 GFLOP,    0.0 GFLOP/s
dense convs         80.0 ms/step (80.0% of the step),   4.00 GFLOP,   50.0 GFLOP/s

## dw: 200 ms per step (batch 16), 80 images/s
op (self time)                                ms/step  share
aten::convolution_backward                      140.0  70.0%
aten::gelu_backward                              12.0   6.0%
autograd::engine::evaluate_function: GeluBackward0      2.0   1.0%
aten::native_batch_norm                          10.0   5.0%
aten::native_batch_norm_backward                  6.0   3.0%
aten::gelu                                        8.0   4.0%
depthwise convs    120.0 ms/step (60.0% of the step),   0.30 GFLOP,    2.5 GFLOP/s
dense convs         50.0 ms/step (25.0% of the step),   2.00 GFLOP,   40.0 GFLOP/s
"""


def test_profile_parsers_on_a_handmade_file() -> None:
    synthetic = "## m: 10 ms per step (batch 2), 200 images/s\ndepthwise convs    4.0 ms/step (40.0% of the step),   0.10 GFLOP,    25.0 GFLOP/s\ndense convs    1.0 ms/step (10.0% of the step),   0.10 GFLOP,    25.0 GFLOP/s\n"
    assert profile_file.parse_profile(synthetic).iloc[0]["depthwise_share"] == 40.0
    profile, ops = profile_file.parse_profile(PROFILE), profile_file.parse_profile_ops(PROFILE)
    assert list(ops.loc[ops["model"] == "dw", "op"])[2] == "autograd::engine::evaluate_function: GeluBackward0"
    assert profile_file.profile_conditions(PROFILE, "p.txt") == bench_header.BenchConditions(
        cpu="Some CPU", threads=2, torch="2.9", batch_size=16, steps=5, policy="fp32/NCHW")
    assert profile_file.depthwise_models(profile) == ["dw"]
    names = profile_file.BN_OPS + profile_file.GELU_OPS
    assert profile_file.op_share(ops, "dw", names) == pytest.approx(18.0)  # 5 + 3 + 4 + 6, not the autograd row
    with pytest.raises(KeyError, match="aten::gelu"):
        profile_file.op_share(ops, "ref", names)  # not listed is not zero
    with pytest.raises(KeyError, match="no op table for 'x'"):
        profile_file.op_share(ops, "x", ["aten::gelu"])
    sentence = profile_file.elementwise_sentence(ops, "dw", "ref")
    assert "约 18%" in sentence and "约 18%，而 `ref` 的 BN（前 2 个算子）约 18%" in sentence
    assert "这 4 个算子" in sentence and "`aten::gelu_backward`" in sentence
    # dw: backward 70 % - dense 25 % = at least 45 % of the step, 75 % of its 60 % depthwise share
    assert profile_file.depthwise_backward_bound(profile, ops, "dw") == pytest.approx((45.0, 0.75))
    text = profile_file.conv_direction_sentence(profile, ops, ["dw"])
    assert text.startswith("dw 的深度卷积时间大部分花在反向传播") and "至少还占 45.0%" in text and "至少 75%" in text
    weak = PROFILE.replace("140.0  70.0%", "100.0  50.0%")  # 50 - 25 = 25 %: under half of 60 %
    text = profile_file.conv_direction_sentence(profile, profile_file.parse_profile_ops(weak), ["dw"])
    assert "大部分" not in text and "至少还占 25.0%" in text


def test_profile_header_and_body_errors_name_the_file_and_the_fix() -> None:
    with pytest.raises(bench_header.BenchHeaderError, match=r"p\.txt: .*number of profiled steps.*--steps 3"):
        profile_file.profile_conditions(PROFILE.split("\n", 1)[1], "p.txt")
    with pytest.raises(bench_header.BenchHeaderError, match=r"p\.txt: .*CPU, torch version.*profile_grafts\.py"):
        profile_file.profile_conditions(PROFILE.replace("2 thread(s)", "two threads"), "p.txt")
    with pytest.raises(ValueError, match=r"p\.txt: expected one batch size .*\[16, 32\]"):
        profile_file.profile_conditions(PROFILE.replace("(batch 16), 80", "(batch 32), 80"), "p.txt")
    with pytest.raises(ValueError, match=r"p\.txt has no '## MODEL"):
        profile_file.parse_profile("# nothing\n", "p.txt")
    with pytest.raises(ValueError, match=r"p\.txt: the sections of \['dw'\] lack"):
        profile_file.parse_profile(PROFILE.rsplit("depthwise convs", 1)[0], "p.txt")
    with pytest.raises(ValueError, match=r"p\.txt: unreadable op line in dw"):
        profile_file.parse_profile_ops(PROFILE.replace("8.0   4.0%", "8.0   n/a"), "p.txt")


DEPTHWISE = """# Some CPU, torch 2.9, 2 thread(s), batch 32, forward + backward, median of 5 interleaved repeats
case                             formulation       ms  GFLOP/s  x conv max |diff|
a 5x5, stage 1                   conv          10.00     5.00    1.00    0.0e+00
a 5x5, stage 1                   conv_cl        5.00    10.00    2.00    0.0e+00
a 5x5, stage 1                   shifted       50.00     1.00    0.20    5.7e-06
b 1x7 (x4 expand), stage 3       conv          10.00     5.00    1.00    0.0e+00
b 1x7 (x4 expand), stage 3       conv_cl       20.00     2.50    0.50    0.0e+00
b 1x7 (x4 expand), stage 3       shifted       40.00     1.25    0.25    1.9e-06
b 1x7 (x4 expand), stage 3       strip1d       12.50     4.00    0.80    0.0e+00
"""


def test_depthwise_file_on_a_handmade_and_the_committed_table() -> None:
    from pathlib import Path

    table = depthwise_file.parse_depthwise(DEPTHWISE, "d.txt")
    assert list(table["case"].unique()) == ["a 5x5, stage 1", "b 1x7 (x4 expand), stage 3"]
    assert depthwise_file.depthwise_conditions(DEPTHWISE, "d.txt") == bench_header.BenchConditions(
        cpu="Some CPU", threads=2, torch="2.9", batch_size=32, steps=5)
    summary = depthwise_file.formulation_summary(table).set_index("formulation")
    assert list(summary.index) == ["conv_cl", "shifted", "strip1d"]
    assert summary.loc["conv_cl"].tolist() == [2, 1, 0.5, 2.0] and summary.loc["strip1d", "cases"] == 1
    text = depthwise_file.formulations_sentence(table, depthwise_file.depthwise_conditions(DEPTHWISE))
    assert "Some CPU 上（2 个线程，批大小 32，前向加反向，5 次交错重复取中位数）" in text and "2 种深度卷积形状" in text
    assert "（`conv_cl`）为 0.50–2.00 倍，2 个形状中 1 个更快" in text and "（`strip1d`）为 0.80–0.80 倍，1 个形状中 0 个更快" in text
    assert "在所有形状上都更慢" in text and "在部分形状上更快" in text
    faster = DEPTHWISE.replace("12.50     4.00    0.80", "8.00     6.25    1.25")  # strip1d now wins once
    text = depthwise_file.formulations_sentence(depthwise_file.parse_depthwise(faster), depthwise_file.depthwise_conditions(DEPTHWISE))
    assert "都更慢" not in text and text.endswith("执行策略要实测的选择。")
    with pytest.raises(ValueError, match=r"d\.txt: unreadable row .*depthwise_formulations\.py"):
        depthwise_file.parse_depthwise(DEPTHWISE.replace("5.00    10.00", "5.00    fast"), "d.txt")
    with pytest.raises(ValueError, match=r"d\.txt is not a depthwise-formulation table"):
        depthwise_file.parse_depthwise("# x\n", "d.txt")
    with pytest.raises(bench_header.BenchHeaderError, match=r"d\.txt: .*repeats"):
        depthwise_file.depthwise_conditions(DEPTHWISE.replace("median of 5", "best of 5"), "d.txt")

    text = (Path(__file__).resolve().parent.parent / "benchmarks" / "results" / "depthwise_cpu.txt").read_text()
    committed = depthwise_file.parse_depthwise(text)
    conditions = depthwise_file.depthwise_conditions(text)
    assert f"# {conditions.cpu}, torch {conditions.torch}, {conditions.threads} thread(s), batch {conditions.batch_size}," in text
    assert (committed.loc[committed["formulation"] == "conv", "x_conv"] == 1.0).all()
    assert len(committed) == len([line for line in text.splitlines()[2:] if line.strip()])


def test_inference_file_header_and_settings() -> None:
    from pathlib import Path

    text = (Path(__file__).resolve().parent.parent / "benchmarks" / "results" / "models_cpu.txt").read_text()
    machines = inference_file.inference_conditions(text, "models_cpu.txt")
    assert all(f"throughput measured on {m.cpu} ({m.threads} threads), torch {m.torch}" in text for m in machines)
    handmade = ("# throughput measured on AMD EPYC (1 threads), torch 2.4\n"
                "# a, b: throughput measured on Intel Xeon (2 threads), torch 2.5\n"
                "# c: throughput measured on AMD EPYC (1 threads), torch 2.4\nmodel family\n")
    assert inference_file.machines_phrase(inference_file.inference_conditions(handmade)) == \
        "AMD EPYC、1 个线程；Intel Xeon、2 个线程"
    with pytest.raises(bench_header.BenchHeaderError, match=r"m\.txt: no '# throughput measured on.*cifarlib models"):
        inference_file.inference_conditions("model family\n", "m.txt")
    assert inference_file.InferenceSettings(64, True).phrase() == "评估模式、bf16 自动混合精度、批大小 64"
    assert inference_file.InferenceSettings(32, False).phrase() == "评估模式、fp32、批大小 32"
    from cifarlib.profile import INFERENCE_AMP, INFERENCE_BATCH_SIZE

    unrecorded = inference_file.inference_settings(handmade)  # an older header: the command's constants
    assert (unrecorded.batch_size, unrecorded.amp, unrecorded.recorded) == (INFERENCE_BATCH_SIZE, INFERENCE_AMP, False)
    recorded = ("# throughput measured on AMD EPYC (1 threads), torch 2.4, inference batch 32, fp32\n"
                "# c: throughput measured on AMD EPYC (1 threads), torch 2.4, inference batch 32, fp32\nmodel\n")
    assert inference_file.inference_settings(recorded) == inference_file.InferenceSettings(32, False)
    assert inference_file.inference_conditions(recorded)[0].torch == "2.4"  # the new fields do not leak into it
    mixed = recorded + "# d: throughput measured on AMD EPYC (1 threads), torch 2.4, inference batch 64, bf16 autocast\n"
    with pytest.raises(bench_header.BenchHeaderError, match=r"m\.txt: its rows were timed with different inference"):
        inference_file.inference_settings(mixed, "m.txt")
    assert bench_header.share_phrase(30.96) == "约 31%" and bench_header.threads_phrase(1) == "1 个线程"
    assert bench_header.device_parts("AMD EPYC (1 threads)") == ("AMD EPYC", 1)
    with pytest.raises(bench_header.BenchHeaderError, match="record x: 'NVIDIA H200' is not a CPU device name"):
        bench_header.device_parts("NVIDIA H200", "record x")


def test_overview_answer_gives_the_corrected_calls_and_counts_what_is_missing() -> None:
    planned = pd.DataFrame([{"experiment": e, "model": m, "variant": "default", "seed": s}
                            for e, models in (("main", ["resnet20", "a", "b", "c"]), ("main_iso", ["a_iso"]))
                            for m in models for s in range(3)]
                           + [{"experiment": "main", "model": "d", "variant": "default", "seed": 0}])
    rows = [_run("main", "resnet20", "default", s, 77.0 + 0.1 * s) for s in range(3)]
    rows += [_run("main", "a", "default", s, 72.0 + 0.2 * s) for s in range(3)]  # -5, tight: lower
    rows += [_run("main", "b", "default", s, 77.0 + [1.5, -1.2, 0.3][s]) for s in range(3)]  # crosses 0
    rows += [_run("main", "c", "default", 0, 90.0)]  # one seed: not reported yet
    rows += [_run("main", "d", "default", 0, 60.0)]  # one seed by plan: named, never judged
    runs = pd.DataFrame([{**r, "train_images": 50000, "test_images": 10000, "epochs": 4, "batch_size": 128,
                          "device": "cpu"} for r in rows])
    text = overview.overview_answer(runs, planned)
    assert "**77.10 ± 0.10%**" in text and len([s for s in text.split("。") if s]) == 3
    assert "按原设计嫁接的版本中，4 个嫁接模型经 Holm 校正后没有一个显著高于骨干" in text
    assert "显著低于骨干的有 `a`（-4.90）" in text and "其余 1 个与骨干没有可检测的差异" in text
    assert "`c`、`d` 只有 1 个种子，不下结论" in text and "60.00" not in text and "`b`" not in text
    assert "等参数版（主比较）还没有任何嫁接模型的记录" in text
    assert f"研究计划的 {len(planned)} 个运行中还有 {len(planned) - len(rows)} 个未完成" in text
    assert overview.overview_answer(runs.iloc[0:0], planned).startswith("研究计划")


def test_an_arm_label_ending_in_chinese_or_a_bracket_takes_no_space_before_the_verb() -> None:
    assert ablations._subject("ε=0（不平滑）") + "与参考" == "ε=0（不平滑）与参考"
    assert ablations._subject("ECA 关") + "与参考" == "ECA 关与参考"
    assert ablations._subject("k=5") + "与参考" == "k=5 与参考"
