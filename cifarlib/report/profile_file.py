"""``benchmarks/profile_grafts.py``'s output parsed: per model ms per step and the depthwise / dense
convolutions' share and achieved GFLOP/s, the top ops by self time, and the header's measurement
conditions."""

from __future__ import annotations

import re

import pandas as pd

from .bench_header import BenchConditions, comment_lines, search_header

MODEL_HEAD = re.compile(r"## (\S+): (\d+) ms per step \(batch (\d+)\)")
KIND_LINE = re.compile(r"(depthwise|dense) convs\s+([\d.]+) ms/step \(\s*([\d.]+)% of the step\),\s+([\d.]+) GFLOP,"
                       r"\s+([\d.]+) GFLOP/s")
OP_LINE = re.compile(r"(?P<op>\S.*?)\s+(?P<ms>[\d.]+)\s+(?P<share>[\d.]+)%")
PROFILE_HEADER = r"^(?P<cpu>.+?), torch (?P<torch>\S+), (?P<threads>\d+) thread\(s\), (?P<policy>\S+) (?P<format>\S+)$"
"""The comment line ``benchmarks/profile_grafts.py`` prints first (``AMD EPYC, torch 2.4, 1 thread(s), fp32 NCHW``)."""
RERUN = "`OMP_NUM_THREADS=1 python benchmarks/profile_grafts.py --steps N > FILE`"


def parse_profile(text: str, source: str = "profile") -> pd.DataFrame:
    """The per-model summary of ``benchmarks/profile_grafts.py``'s output: ms per step, and for
    depthwise and dense convolutions their share of the step and the GFLOP/s they achieve. Text
    without a single ``## model: N ms per step`` section fails, naming ``source``."""
    rows, current = [], None
    for line in text.splitlines():
        head = MODEL_HEAD.match(line)
        if head:
            current = {"model": head.group(1), "ms_per_step": float(head.group(2))}
            rows.append(current)
            continue
        kind = KIND_LINE.match(line)
        if kind and current is not None:
            current[f"{kind.group(1)}_share"] = float(kind.group(3))
            current[f"{kind.group(1)}_gflops_per_s"] = float(kind.group(5))
    if not rows:
        raise ValueError(f"{source} has no '## MODEL: N ms per step (batch B)' section: it is not the output of "
                         f"benchmarks/profile_grafts.py; write it with {RERUN}")
    missing = [r["model"] for r in rows if "depthwise_share" not in r or "dense_share" not in r]
    if missing:
        raise ValueError(f"{source}: the sections of {missing} lack their 'depthwise convs' / 'dense convs' "
                         f"lines (a truncated file?); write it again with {RERUN}")
    return pd.DataFrame(rows)


def parse_profile_ops(text: str, source: str = "profile") -> pd.DataFrame:
    """The top ops by self time of every model's section: ``model``, ``op`` (the ATen or autograd
    name), ``ms_per_step`` and ``share`` (percent of the step). The script lists only the top
    few ops per model, so an op missing here may still have run."""
    rows, model, in_ops = [], None, False
    for line in text.splitlines():
        head = MODEL_HEAD.match(line)
        if head:
            model, in_ops = head.group(1), False
        elif line.startswith("op (self time)"):
            in_ops = model is not None
        elif in_ops and (KIND_LINE.match(line) or not line.strip()):
            in_ops = False
        elif in_ops:
            match = OP_LINE.fullmatch(line.strip())
            if match is None:
                raise ValueError(f"{source}: unreadable op line in {model}'s section: {line!r}")
            rows.append({"model": model, "op": match.group("op"), "ms_per_step": float(match.group("ms")),
                         "share": float(match.group("share"))})
    if not rows:
        raise ValueError(f"{source} has no 'op (self time)' table: write it with {RERUN}")
    return pd.DataFrame(rows)


def op_share(ops: pd.DataFrame, model: str, names: list[str], source: str = "profile") -> float:
    """The summed share (percent of the step) of the ops ``names`` in ``model``'s top-op list from
    :func:`parse_profile_ops`. An op not listed fails by name rather than counting as zero: the
    list is truncated, so its absence says nothing about its time."""
    listed = ops[ops["model"] == model]
    if listed.empty:
        raise KeyError(f"{source} has no op table for {model!r} (profiled: {sorted(set(ops['model']))})")
    absent = [n for n in names if n not in set(listed["op"])]
    if absent:
        raise KeyError(f"{source}: {absent} not among the top ops listed for {model!r}; "
                       f"listed: {list(listed['op'])}")
    return float(listed.loc[listed["op"].isin(names), "share"].sum())


def depthwise_models(profile: pd.DataFrame) -> list[str]:
    """The profiled models with depthwise convolutions (a non-zero depthwise share), in file order."""
    return list(profile.loc[profile["depthwise_share"] > 0, "model"])


def profile_conditions(text: str, source: str = "profile") -> BenchConditions:
    """CPU, threads, torch version, policy (``fp32/NCHW``), batch size and profiled steps of a
    ``benchmarks/profile_grafts.py`` output. The script prints the first four; the batch comes from
    its model sections (one value for all, else the file fails); it does not print ``--steps``, so
    a comment line must name it (``# ... profile_grafts.py --steps 3 ...``), else the file fails."""
    comments = comment_lines(text)
    header = search_header(comments, PROFILE_HEADER, source, "the CPU, torch version, threads and policy",
                           f"keep the first line the script prints ({RERUN})")
    steps = search_header(comments, r"profile_grafts\.py\b.*--steps (\d+)", source, "the number of profiled steps",
                          "add a comment line with the command that made it, e.g. "
                          "'# OMP_NUM_THREADS=1 python benchmarks/profile_grafts.py --steps 3'")
    batches = {int(m.group(3)) for m in MODEL_HEAD.finditer(text)}
    if len(batches) != 1:
        raise ValueError(f"{source}: expected one batch size over its model sections, found {sorted(batches)}; "
                         f"profile every model in one run ({RERUN})")
    return BenchConditions(cpu=header.group("cpu"), threads=int(header.group("threads")),
                           torch=header.group("torch"), batch_size=batches.pop(), steps=int(steps.group(1)),
                           policy=f"{header.group('policy')}/{header.group('format')}")


CONV_BACKWARD = "aten::convolution_backward"
"""The op holding every convolution's backward (depthwise and dense) as its self time."""
BN_OPS = ["aten::native_batch_norm", "aten::native_batch_norm_backward"]
GELU_OPS = ["aten::gelu", "aten::gelu_backward"]


def _listing(shares: dict[str, float], decimals: int = 0) -> str:
    """``msca_resnet20 64%、lsk_resnet20 67%``."""
    return "、".join(f"{m} {s:.{decimals}f}%" for m, s in shares.items())


def depthwise_backward_bound(profile: pd.DataFrame, ops: pd.DataFrame, model: str,
                             source: str = "profile") -> tuple[float, float]:
    """A lower bound on the share of ``model``'s step that is depthwise convolutions' backward, and
    the same as a fraction of the depthwise convs' own share. Every 2-D convolution's backward is a
    :data:`CONV_BACKWARD` call whose self time counts, by its weight's shape, to the depthwise or
    the dense kind; the dense kind's calls take at most the dense convs' whole share, so the
    depthwise backward holds at least ``share(CONV_BACKWARD) - dense_share``."""
    row = profile.set_index("model").loc[model]
    bound = max(0.0, op_share(ops, model, [CONV_BACKWARD], source) - float(row["dense_share"]))
    return bound, bound / float(row["depthwise_share"]) if row["depthwise_share"] else float("nan")


def conv_direction_sentence(profile: pd.DataFrame, ops: pd.DataFrame, models: list[str],
                            source: str = "profile") -> str:
    """The depthwise convs' backward in ``models``, in the book's words, from
    :func:`depthwise_backward_bound`: the numbers it is computed from and the bound, as a share of
    the step and of the depthwise time; "most of it" is said only when the bound exceeds half for
    every model."""
    backward = {m: op_share(ops, m, [CONV_BACKWARD], source) for m in models}
    dense = profile.set_index("model")["dense_share"]
    bounds = {m: depthwise_backward_bound(profile, ops, m, source) for m in models}
    mostly = all(fraction > 0.5 for _, fraction in bounds.values())
    names = "、".join(models)
    return ((f"{names} 的深度卷积时间大部分花在反向传播：" if mostly else f"{names} 的深度卷积反向：")
            + f"全部卷积的反向（`{CONV_BACKWARD}` 的自身时间）占训练步的 {_listing(backward, 1)}，"
            f"减去普通卷积的全部时间（{'、'.join(f'{dense[m]:.1f}%' for m in models)}），"
            f"深度卷积的反向至少还占 {'、'.join(f'{b:.1f}%' for b, _ in bounds.values())}，"
            f"即深度卷积时间的至少 {'、'.join(f'{f * 100:.0f}%' for _, f in bounds.values())}。")


def elementwise_sentence(ops: pd.DataFrame, model: str, reference: str, source: str = "profile") -> str:
    """The share of ``model``'s step in batch norm and GELU, forward and backward (the self time of
    :data:`BN_OPS` and :data:`GELU_OPS`, named in the sentence), against ``reference``'s batch norm
    (:data:`BN_OPS`; a ResNet has no GELU), as :func:`share_phrase` percents."""
    from .bench_header import share_phrase

    names = BN_OPS + GELU_OPS
    share = op_share(ops, model, names, source)
    reference_share = op_share(ops, reference, BN_OPS, source)
    return (f"`{model}` 的训练步中，BN 与 GELU 的前向和反向（{'、'.join(f'`{n}`' for n in names)} "
            f"这 {len(names)} 个算子的自身时间之和）{share_phrase(share)}，"
            f"而 `{reference}` 的 BN（前 {len(BN_OPS)} 个算子）{share_phrase(reference_share)}。")
