"""Tagging schemes (BIO, BIOES, plain): which scheme a tag set is, entity spans, repairs, legal transitions.

Spans follow the CoNLL evaluation script (conlleval) and seqeval's default mode: an ``I-X`` after ``O``
or after a tag of another type starts a new entity, and an entity ends where the next tag does not
continue it. So a file with invalid sequences is scored as conlleval scores it, and ``repair`` rewrites
such a sequence into the valid one that has the same entities.
"""

from __future__ import annotations

from collections.abc import Sequence

BIO, BIOES, PLAIN = "BIO", "BIOES", "plain"
Span = tuple[str, int, int]  # (type, start, end): tokens start..end-1


def split_tag(tag: str) -> tuple[str, str]:
    """``B-PER`` -> ("B", "PER"); ``O`` -> ("O", ""); a tag without a prefix is its own type."""
    if tag == "O":
        return "O", ""
    if len(tag) > 2 and tag[1] in "-_" and tag[0] in "BIES":
        return tag[0], tag[2:]
    return "", tag


def detect_scheme(tags: set[str] | Sequence[str]) -> str:
    """BIOES when any E-/S- tag appears, BIO when every tag is O or B-/I-, else plain labels."""
    prefixes = {split_tag(t)[0] for t in tags}
    if "" in prefixes or prefixes <= {"O"}:
        return PLAIN
    return BIOES if prefixes & {"E", "S"} else BIO


def _starts(prev: tuple[str, str], cur: tuple[str, str]) -> bool:
    (pp, pt), (cp, ct) = prev, cur
    if cp in ("B", "S"):
        return True
    if cp in ("I", "E"):
        return pp in ("O", "E", "S", "") or pt != ct
    return False


def _ends(prev: tuple[str, str], cur: tuple[str, str]) -> bool:
    (pp, pt), (cp, ct) = prev, cur
    if pp in ("E", "S"):
        return True
    if pp in ("B", "I"):
        return cp in ("O", "B", "S", "") or ct != pt
    return False


def spans(tags: Sequence[str]) -> list[Span]:
    """The entities of one sentence's BIO or BIOES tags, as conlleval finds them."""
    found: list[Span] = []
    start, kind, prev = None, "", ("O", "")
    for i, tag in enumerate([*tags, "O"]):
        cur = split_tag(tag)
        if start is not None and _ends(prev, cur):
            found.append((kind, start, i))
            start = None
        if _starts(prev, cur) and cur[0] != "O":
            start, kind = i, cur[1]
        prev = cur
    return found


def encode_spans(found: Sequence[Span], length: int, scheme: str) -> list[str]:
    """Tags of ``scheme`` for entities ``found`` in a sentence of ``length`` tokens."""
    tags = ["O"] * length
    for kind, start, end in found:
        if scheme == BIOES and end - start == 1:
            tags[start] = f"S-{kind}"
            continue
        tags[start] = f"B-{kind}"
        for i in range(start + 1, end):
            tags[i] = f"I-{kind}"
        if scheme == BIOES:
            tags[end - 1] = f"E-{kind}"
    return tags


def repair(tags: list[str], scheme: str) -> list[str]:
    """The valid sequence with the same entities as conlleval reads them (the tags themselves if valid)."""
    if scheme == PLAIN:
        return tags
    return encode_spans(spans(tags), len(tags), scheme)


def allowed(prev: str | None, cur: str | None, scheme: str) -> bool:
    """May ``cur`` follow ``prev``? ``prev`` None: ``cur`` starts the sentence; ``cur`` None: ``prev`` ends it."""
    if scheme == PLAIN:
        return True
    p = split_tag(prev) if prev is not None else ("O", "")
    c = split_tag(cur) if cur is not None else ("O", "")
    continues = c[0] in ("I", "E")
    if scheme == BIO:
        return not continues or (p[0] in ("B", "I") and p[1] == c[1])
    open_before = p[0] in ("B", "I")
    if continues:
        return open_before and p[1] == c[1]
    return not open_before
