"""Generate ``reviews.csv`` and ``reviews_test.csv``: short invented film reviews labelled positive or negative.

The sentiment of many reviews depends on word order, which a bag of words
cannot see: negation with words in between ("not at all good", "never really
bad") and contrast, where the clause after "but" decides ("the acting was good,
but the plot was dull"). Both clauses use the same words in both classes, so
only their order tells them apart. Run ``python sample_data/make_reviews.py``
to rebuild both files byte for byte (seeded).
"""

from __future__ import annotations

import csv
import random
from pathlib import Path

SEED = 16
TRAIN, TEST = 800, 300

NOUNS = ["acting", "plot", "music", "ending", "script", "camera work", "cast", "dialogue", "pacing", "story"]
GOOD = ["good", "great", "wonderful", "superb", "moving", "clever", "fun", "lovely"]
BAD = ["bad", "dull", "awful", "boring", "clumsy", "weak", "terrible", "flat"]
ADVERBS = ["", "", "really ", "very ", "quite ", "truly "]
NEGATIONS = ["not ", "not at all ", "never ", "not really ", "hardly ", "not very "]
OPENERS = ["", "", "honestly , ", "i thought ", "overall ", "well , "]


def clause(rng: random.Random, positive: bool) -> str:
    """One clause about one part of the film, sometimes negated (then it says the opposite word)."""
    noun = rng.choice(NOUNS)
    negated = rng.random() < 0.4
    words = BAD if positive == negated else GOOD  # a negated clause uses the other side's adjectives
    verb = "was" if rng.random() < 0.7 else "is"
    middle = rng.choice(NEGATIONS) if negated else rng.choice(ADVERBS)
    return f"the {noun} {verb} {middle}{rng.choice(words)}"


def review(rng: random.Random, positive: bool) -> str:
    """A single clause (half the time) or a contrast whose second clause decides."""
    opener = rng.choice(OPENERS)
    if rng.random() < 0.5:
        return opener + clause(rng, positive)
    first = clause(rng, not positive)
    return f"{opener}{first} , but {clause(rng, positive)}"


def rows(rng: random.Random, count: int) -> list[tuple[int, str, str]]:
    out = []
    for i in range(count):
        positive = rng.random() < 0.55  # a little imbalance: the majority class is positive
        out.append((i + 1, review(rng, positive), "positive" if positive else "negative"))
    return out


def write(path: Path, table: list[tuple[int, str, str]]) -> None:
    with open(path, "w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(["id", "review", "sentiment"])
        writer.writerows(table)


def main() -> None:
    here = Path(__file__).resolve().parent
    rng = random.Random(SEED)
    write(here / "reviews.csv", rows(rng, TRAIN))
    write(here / "reviews_test.csv", rows(rng, TEST))


if __name__ == "__main__":
    main()
