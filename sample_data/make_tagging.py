"""Generate ``ner.conll`` and ``ner_test.conll``: invented sentences with entities in BIO tags, seeded.

A small grammar writes sentences about people (PER), places (LOC), organisations (ORG) and dates
(DATE) in varied frames. Context matters: a few names are people in one frame and places or
organisations in another (Jordan, Florence, Lincoln, Chelsea, Washington, Victoria), a person's
second name is I-PER, and the test file holds names the training file never shows (drawn from a
held-out pool), so a most-frequent-tag-per-word baseline is wrong on them and a model that reads
context and spelling is not. Run ``python sample_data/make_tagging.py`` to rebuild both files byte
for byte.
"""

from __future__ import annotations

import random
from pathlib import Path

SEED = 2027
FIRST = [
    "Ada", "Alan", "Grace", "Kurt", "Emmy", "Srinivasa", "Sofia", "Niels", "Lise", "Marie", "Carl", "Ida", "Tomas",
    "Hedy", "Rosalind", "Alonzo", "Barbara", "Edsger", "Katherine", "Dorothy",
]  # fmt: skip
LAST = [
    "Lovelace", "Turing", "Hopper", "Godel", "Noether", "Ramanujan", "Kovalevskaya", "Bohr", "Meitner", "Curie",
    "Gauss", "Noddack", "Masaryk", "Lamarr", "Franklin", "Church", "Liskov", "Dijkstra", "Johnson", "Vaughan",
]  # fmt: skip
PLACES = ["London", "Paris", "Vienna", "Prague", "Madras", "Oslo", "Lisbon", "Dublin", "Cairo", "Lima", "New York",
          "San Francisco", "Buenos Aires", "Cape Town"]  # fmt: skip
ORGS = ["Acme Corp", "Globex", "Initech", "the Royal Society", "Bell Labs", "Northwind Traders", "Umbrella Group",
        "Stark Industries", "the Academy of Sciences", "Wayne Enterprises"]  # fmt: skip
# Names that are people in some frames and places or organisations in others: only context tells.
AMBIGUOUS = {"Jordan": ("PER", "LOC"), "Florence": ("PER", "LOC"), "Victoria": ("PER", "LOC"),
             "Lincoln": ("PER", "LOC"), "Washington": ("PER", "LOC"), "Chelsea": ("PER", "ORG")}  # fmt: skip
HELD_OUT_FIRST = ["Mileva", "Hypatia", "Emilie", "Chien-Shiung", "Hertha", "Mary", "Jocelyn"]
HELD_OUT_LAST = ["Maric", "Germain", "Wu", "Ayrton", "Somerville", "Bell", "Burnell"]
HELD_OUT_PLACES = ["Kyoto", "Nairobi", "Quito", "Tallinn", "Reykjavik"]
HELD_OUT_ORGS = ["Cyberdyne", "Soylent Industries", "Tyrell Corp"]
MONTHS = [
    "January", "February", "March", "April", "May", "June", "July", "August", "September", "October", "November",
    "December",
]  # fmt: skip

FRAMES = [
    "{PER} moved to {LOC} in {DATE} .",
    "{PER} works for {ORG} in {LOC} .",
    "{ORG} opened an office in {LOC} .",
    "In {DATE} , {PER} visited {LOC} with {PER} .",
    "{PER} met {PER} at {ORG} .",
    "The report from {ORG} was written by {PER} .",
    "{ORG} hired {PER} after a long search .",
    "She flew from {LOC} to {LOC} on {DATE} .",
    "According to {PER} , {ORG} will leave {LOC} .",
    "Yesterday {PER} said that {LOC} is beautiful in {DATE} .",
    "He lives near {LOC} and works at {ORG} .",
    "{PER} wrote to {PER} about the trip to {LOC} .",
]


def entity(kind: str, rng: random.Random, held_out: bool) -> list[str]:
    """The tokens of one entity of ``kind``; in the test file, now and then a name from the held-out pool."""
    fresh = held_out and rng.random() < 0.35
    ambiguous = [n for n, kinds in AMBIGUOUS.items() if kind in kinds]
    if kind == "DATE":
        if rng.random() < 0.5:
            return [rng.choice(MONTHS), str(rng.randint(1800, 1999))]
        return [str(rng.randint(1800, 1999))]
    if ambiguous and rng.random() < 0.25:
        name = [rng.choice(ambiguous)]
        return [rng.choice(FIRST), name[0]] if kind == "PER" and rng.random() < 0.5 else name
    if kind == "PER":
        first, last = (HELD_OUT_FIRST, HELD_OUT_LAST) if fresh else (FIRST, LAST)
        return [rng.choice(first), rng.choice(last)] if rng.random() < 0.7 else [rng.choice(last)]
    pool = {"LOC": (PLACES, HELD_OUT_PLACES), "ORG": (ORGS, HELD_OUT_ORGS)}[kind]
    return rng.choice(pool[1] if fresh else pool[0]).split()


def sentence(rng: random.Random, held_out: bool) -> list[tuple[str, str]]:
    rows = []
    for word in rng.choice(FRAMES).split():
        if word.startswith("{"):
            kind = word[1:-1]
            tokens = entity(kind, rng, held_out)
            if kind == "ORG" and tokens[0] == "the":  # "the" stays outside the name, as in CoNLL-2003
                rows.append(("the", "O"))
                tokens = tokens[1:]
            rows += [(t, ("B-" if i == 0 else "I-") + kind) for i, t in enumerate(tokens)]
        else:
            rows.append((word, "O"))
    return rows


def write(path: Path, count: int, seed: int, *, held_out: bool) -> None:
    rng = random.Random(seed)
    blocks = ["\n".join(f"{t}\t{tag}" for t, tag in sentence(rng, held_out)) for _ in range(count)]
    path.write_text("\n\n".join(blocks) + "\n", encoding="utf-8")


if __name__ == "__main__":
    here = Path(__file__).resolve().parent
    write(here / "ner.conll", 900, SEED, held_out=False)
    write(here / "ner_test.conll", 250, SEED + 1, held_out=True)
