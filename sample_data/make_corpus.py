"""Generate ``tinyworld.txt``: small invented fables, deterministic, written here.

A seeded grammar writes titled stories with narration and dialogue, so a
character model has words, punctuation, capitals and layout to learn. Run
``python sample_data/make_corpus.py`` to rebuild the file byte for byte.
"""

from __future__ import annotations

import random
from pathlib import Path

SEED = 2026
STORIES = 420

ANIMALS = [
    "fox",
    "heron",
    "badger",
    "otter",
    "wren",
    "hare",
    "mole",
    "crow",
    "toad",
    "lark",
    "beaver",
    "owl",
    "stoat",
    "swan",
    "vole",
    "goat",
]
PLACES = [
    "the river",
    "the old mill",
    "the birch wood",
    "the salt marsh",
    "the hill farm",
    "the stone bridge",
    "the orchard",
    "the reed bed",
    "the quarry",
    "the lighthouse",
]
THINGS = [
    "a silver key",
    "a loaf of bread",
    "a lantern",
    "a map",
    "a bell",
    "a basket of plums",
    "a blue feather",
    "a wooden boat",
    "a jar of honey",
    "a coil of rope",
    "a letter",
]
ADJECTIVES = [
    "clever",
    "tired",
    "proud",
    "gentle",
    "hungry",
    "curious",
    "patient",
    "foolish",
    "brave",
    "quiet",
    "greedy",
    "kind",
]
WEATHER = ["rain fell on", "mist lay over", "the wind crossed", "snow covered", "the sun warmed", "frost silvered"]
TIMES = [
    "One morning",
    "Late in the evening",
    "At the end of summer",
    "Before dawn",
    "On the first day of spring",
    "Long ago",
    "When the moon was full",
]
VERBS_LOST = ["lost", "dropped", "forgot", "hid", "buried"]
MORALS = [
    "Haste finds the hole in every road.",
    "A shared loaf feeds more than one.",
    "Who listens first speaks best.",
    "The slow path still reaches the hill.",
    "Pride keeps a cold house.",
    "A friend in the rain is worth two in the sun.",
    "What is hidden is not always safe.",
    "Small hands can move a heavy stone.",
]
SAYINGS = [
    "I will look by {place}.",
    "Have you seen {thing}?",
    "It is not mine to keep.",
    "We should go together.",
    "I am too {adj} to help today.",
    "Wait until the {time_word} comes.",
    "Thank you, friend {animal}.",
    "Follow me to {place}.",
]
TIME_WORDS = ["morning", "tide", "thaw", "harvest", "night"]


def cap(text: str) -> str:
    return text[0].upper() + text[1:]


class Story:
    def __init__(self, rng: random.Random):
        self.rng = rng
        self.hero, self.friend = rng.sample(ANIMALS, 2)
        self.adj = rng.choice(ADJECTIVES)
        self.thing = rng.choice(THINGS)
        self.place, self.other_place = rng.sample(PLACES, 2)

    def say(self, speaker: str) -> str:
        line = self.rng.choice(SAYINGS).format(
            place=self.rng.choice(PLACES),
            thing=self.thing,
            adj=self.rng.choice(ADJECTIVES),
            time_word=self.rng.choice(TIME_WORDS),
            animal=self.hero if speaker != self.hero else self.friend,
        )
        if line.endswith("."):
            line = line[:-1] + ","  # "Wait here," said the fox.
        return f'"{line}" said the {speaker}.'

    def write(self) -> str:
        r = self.rng
        title = f"The {cap(self.adj)} {cap(self.hero)} and the {cap(self.friend)}"
        opening = (
            f"{r.choice(TIMES)}, {r.choice(WEATHER)} {self.place}. "
            f"A {self.adj} {self.hero} {r.choice(VERBS_LOST)} {self.thing} near {self.other_place}."
        )
        middle = [self.say(r.choice([self.hero, self.friend])) for _ in range(r.randint(2, 5))]
        turn = (
            f"The {self.friend} walked to {self.other_place} and came back with {self.thing}. "
            f"The {self.hero} was {r.choice(['glad', 'ashamed', 'surprised', 'silent'])}."
        )
        if r.random() < 0.5:
            turn += f" Together they went home by {self.place}."
        moral = f"Moral: {r.choice(MORALS)}"
        return "\n".join([title, "", opening, *middle, turn, "", moral, "", ""])


def make_corpus(seed: int = SEED, stories: int = STORIES) -> str:
    rng = random.Random(seed)
    return "".join(Story(rng).write() for _ in range(stories))


if __name__ == "__main__":
    out = Path(__file__).with_name("tinyworld.txt")
    out.write_text(make_corpus(), encoding="utf-8")
    print(f"wrote {out} ({out.stat().st_size:,} bytes)")
