"""The book's prose counts ("十种方法", "六组消融"), computed from the tables they count: the method
table (:data:`cifarlib.models.methods.METHODS`) and the study's ablations
(:data:`cifarlib.report.ablations.STUDY_ABLATIONS`). Pages glue them; the plan's Chinese
summaries name them as ``{methods}`` / ``{ablations}`` (:func:`plan_summary`)."""

from __future__ import annotations

from ..models import methods
from . import ablations

_DIGITS = "零一二三四五六七八九"


def chinese_number(n: int) -> str:
    """``n`` (0-99) in Chinese numerals as prose writes a count: 6 -> 六, 10 -> 十, 11 -> 十一, 23 -> 二十三."""
    if isinstance(n, bool) or not isinstance(n, int) or not 0 <= n < 100:
        raise ValueError(f"chinese_number takes an integer count 0-99, got {n!r}")
    tens, ones = divmod(n, 10)
    if tens == 0:
        return _DIGITS[ones]
    return ("" if tens == 1 else _DIGITS[tens]) + "十" + (_DIGITS[ones] if ones else "")


def book_counts() -> dict[str, str]:
    """The counts the book's prose uses, in Chinese numerals: ``methods`` (methods of the table,
    one graft and one iso graft each), ``full`` (full-size networks), ``ablations`` (study ablations)."""
    table = methods.METHODS
    return {"methods": chinese_number(len(table)),
            "full": chinese_number(sum(m.full is not None for m in table)),
            "ablations": chinese_number(len(ablations.STUDY_ABLATIONS))}


def plan_summary(text: str) -> str:
    """A preset's ``summary_zh`` with its ``{methods}``, ``{full}`` and ``{ablations}`` filled in;
    a ``ValueError`` names any other field."""
    try:
        return text.format(**book_counts())
    except (KeyError, IndexError, ValueError) as err:
        raise ValueError(f"plan summary_zh {text!r}: unknown or malformed field ({err}); "
                         f"the fields are {', '.join('{' + k + '}' for k in book_counts())}") from None
