"""Generate ``pairs.tsv`` and ``pairs_test.tsv``: dates written in many ways, each with its ISO 8601 form.

    python sample_data/make_pairs.py

Each line is ``source<TAB>target<TAB>format``: a date as people write it
("the 5th of March, 2021", "Fri 5 Mar 2021", "3/5/2021", "05.03.2021"...), the
same date as ``2021-03-05``, and the name of the written form (a third column,
as the attribution column of Tatoeba's pair files, which training ignores).

The mapping is deterministic and needs reordering (the year moves to the
front, month names become numbers, a US slash date swaps day and month), so
copying the source scores low while a small encoder-decoder with attention
learns it in about a minute on a CPU. Seeded: the files never change. The test
file holds dates that are not in the training file.
"""

from __future__ import annotations

import datetime as dt
import random
from pathlib import Path

SEED = 2026
TRAIN_PAIRS = 3000
TEST_PAIRS = 300
FIRST, LAST = dt.date(1950, 1, 1), dt.date(2049, 12, 31)

MONTHS = [
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
]
DAYS = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday"]


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


# Each written form: its name and how it writes a date.
FORMS = {
    "month-day-year": lambda d: f"{MONTHS[d.month - 1]} {d.day}, {d.year}",
    "day-month-year": lambda d: f"{d.day} {MONTHS[d.month - 1]} {d.year}",
    "short-month": lambda d: f"{MONTHS[d.month - 1][:3]} {d.day} {d.year}",
    "weekday": lambda d: f"{DAYS[d.weekday()]}, {MONTHS[d.month - 1]} {d.day}, {d.year}",
    "short-weekday": lambda d: f"{DAYS[d.weekday()][:3]} {d.day} {MONTHS[d.month - 1][:3]} {d.year}",
    "ordinal": lambda d: f"the {ordinal(d.day)} of {MONTHS[d.month - 1]}, {d.year}",
    "us-slashes": lambda d: f"{d.month}/{d.day}/{d.year}",
    "european-dots": lambda d: f"{d.day:02d}.{d.month:02d}.{d.year}",
    "lower-case": lambda d: f"{d.day} {MONTHS[d.month - 1].lower()} {d.year}",
}


def random_dates(rng: random.Random, count: int, taken: set[dt.date]) -> list[dt.date]:
    span = (LAST - FIRST).days
    dates: list[dt.date] = []
    while len(dates) < count:
        date = FIRST + dt.timedelta(days=rng.randrange(span + 1))
        if date not in taken:
            taken.add(date)
            dates.append(date)
    return dates


def lines(rng: random.Random, dates: list[dt.date]) -> list[str]:
    names = sorted(FORMS)
    out = []
    for date in dates:
        form = rng.choice(names)
        out.append(f"{FORMS[form](date)}\t{date.isoformat()}\t{form}\n")
    return out


def main() -> None:
    rng = random.Random(SEED)
    taken: set[dt.date] = set()
    here = Path(__file__).resolve().parent
    train = lines(rng, random_dates(rng, TRAIN_PAIRS, taken))
    test = lines(rng, random_dates(rng, TEST_PAIRS, taken))
    (here / "pairs.tsv").write_text("".join(train), encoding="utf-8")
    (here / "pairs_test.tsv").write_text("".join(test), encoding="utf-8")


if __name__ == "__main__":
    main()
