"""Cutting long text into pieces at places where a tokenizer's tokens cannot straddle the cut."""

from __future__ import annotations

import re
from collections.abc import Iterator


def split_at_cuts(text: str, cut: re.Pattern[str], size: int) -> Iterator[str]:
    """``text`` in pieces of about ``size`` characters, each ending just after a match of ``cut``.

    A piece is longer than ``size`` when no cut comes sooner (the whole rest
    of the text, if none comes at all).
    """
    start = 0
    while len(text) - start > size:
        found = cut.search(text, start + size)
        end = found.end() if found else len(text)
        yield text[start:end]
        start = end
    if start < len(text):
        yield text[start:]
