"""How a committed benchmark file says it was measured, read from its comment lines.

The benchmark scripts print their measurement conditions as ``# ...`` lines above their tables
(the CPU model and thread count as :func:`cifarlib.devices.device_name` writes them, the torch
version, the batch size, the number of timed steps). The efficiency chapter states those
conditions from here instead of typing them, so a rerun on another machine changes the prose with
the numbers. A field the file does not record is not guessed: the parser fails, naming the file
and what to add, or the chapter leaves the claim out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

DEVICE_NAME = re.compile(r"(?P<cpu>.+?) \((?P<threads>\d+) threads?\)")
"""The CPU part of :func:`cifarlib.devices.device_name`: ``AMD EPYC (1 threads)``."""


class BenchHeaderError(ValueError):
    """A benchmark file whose comment lines do not say how it was measured."""


@dataclass(frozen=True)
class BenchConditions:
    """What a benchmark file's header records. ``batch_size``, ``steps`` and ``policy`` are
    ``None`` where that file's format has no such field."""

    cpu: str
    threads: int
    torch: str
    batch_size: int | None = None
    steps: int | None = None
    policy: str | None = None


def comment_lines(text: str) -> list[str]:
    """The ``# ...`` lines of a benchmark file, without the ``#`` and surrounding spaces."""
    return [line[1:].strip() for line in text.splitlines() if line.startswith("#")]


def search_header(comments: list[str], pattern: str | re.Pattern[str], source: str, what: str,
                  fix: str) -> re.Match[str]:
    """The first match of ``pattern`` in the comment lines; a :class:`BenchHeaderError` naming
    ``source`` (the file), ``what`` was looked for and ``fix`` when no line has it."""
    for line in comments:
        if match := re.search(pattern, line):
            return match
    shown = "; ".join(comments) if comments else "no comment lines at all"
    raise BenchHeaderError(f"{source}: its header does not record {what} (comment lines: {shown}); {fix}")


def device_parts(name: str, source: str = "device name") -> tuple[str, int]:
    """``("AMD EPYC", 1)`` from ``"AMD EPYC (1 threads)"`` (:func:`cifarlib.devices.device_name`
    on a CPU); a :class:`BenchHeaderError` naming ``source`` for any other shape."""
    match = DEVICE_NAME.fullmatch(name.strip())
    if match is None:
        raise BenchHeaderError(f"{source}: {name!r} is not a CPU device name of the form 'MODEL (N threads)' "
                               "(as cifarlib.devices.device_name writes it)")
    return match.group("cpu"), int(match.group("threads"))


def threads_phrase(threads: int) -> str:
    """``1 个线程``: a thread count in the book's words."""
    return f"{threads} 个线程"


def share_phrase(percent: float) -> str:
    """A share of a step in the book's words, rounded to a whole percent: ``约 31%``."""
    return f"约 {percent:.0f}%"
