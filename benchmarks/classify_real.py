"""Classification on real short texts: rnn's default model against the bag-of-words baselines.

Builds two labelled sets from the Debian `fortunes` packages installed on this machine (nothing is downloaded
and no text is kept in the repository), in a temporary folder:

- **language**: which of en / de / it / es / ru a fortune is written in, balanced, each cut to a short text;
- **topic**: which file an English fortune comes from (computers, politics, science, work, men-women).

Each set is split train/test per class with a fixed seed. Then, as a user would, it runs
`rnn train TRAIN --task classify --time BUDGET` with every other option at its default (or `--train-args`) and
`rnn eval RUN TEST --json`, and prints the test accuracy and macro F1 of the model beside the majority class
and the TF-IDF + logistic-regression baselines (which rnn fits on the same training split).

    OMP_NUM_THREADS=1 python benchmarks/classify_real.py            # --time 2m per set
    python benchmarks/classify_real.py --time 30s --keep /tmp/real  # keep the data and runs
    python benchmarks/classify_real.py --sets language --time 3m --train-args "--tokenizer char"

Any other labelled split, kept outside the repository (docs/classify.md names the public sets measured), with
its own held-out test file and, optionally, a validation file passed to `rnn train --val`:

    python benchmarks/classify_real.py --sets "" --files sst2=train.tsv:dev.tsv --files offensive=tr.csv:te.csv:va.csv
"""

from __future__ import annotations

import argparse
import csv
import json
import os
import random
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path("/usr/share/games/fortunes")
PACKAGES = "fortunes fortunes-de fortunes-it fortunes-es fortunes-ru"
LANGUAGES = {"en": "", "de": "de", "it": "it", "es": "es", "ru": "ru"}
ENGLISH_FILES = ("computers", "politics", "science", "work", "men-women", "people", "wisdom", "education", "law")
TOPICS = ("computers", "politics", "science", "work", "men-women")
SEED = 7


def read_fortunes(path: Path) -> list[str]:
    """The fortunes of one file, each on one line with its whitespace squeezed ([] for a file that is not UTF-8)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (UnicodeDecodeError, OSError):
        return []
    pieces = (re.sub(r"\s+", " ", piece).strip() for piece in re.split(r"^%\s*$", text, flags=re.M))
    return [piece for piece in pieces if len(piece) >= 20]


def language_texts(code: str) -> list[str]:
    if code == "en":
        return [t for name in ENGLISH_FILES for t in read_fortunes(ROOT / name)]
    folder = ROOT / LANGUAGES[code]
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix not in (".dat", ".u8"))
    return [t for path in files for t in read_fortunes(path)]


def shorten(text: str, limit: int) -> str:
    """The text cut at the last space before `limit` characters."""
    if len(text) <= limit:
        return text
    cut = text[:limit]
    return cut[: cut.rfind(" ")] if " " in cut else cut


def language_set(per_class: int, limit: int) -> dict[str, list[str]]:
    rng = random.Random(SEED)
    data = {}
    for code in LANGUAGES:
        texts = sorted(set(shorten(t, limit) for t in language_texts(code)))
        rng.shuffle(texts)
        data[code] = texts[:per_class]
    size = min(len(v) for v in data.values())
    return {code: texts[:size] for code, texts in data.items()}


def topic_set(per_class: int, limit: int) -> dict[str, list[str]]:
    rng = random.Random(SEED)
    data = {}
    for topic in TOPICS:
        texts = sorted(set(t for t in read_fortunes(ROOT / topic) if len(t) <= limit))
        rng.shuffle(texts)
        data[topic] = texts[:per_class]
    return data


def write_split(data: dict[str, list[str]], folder: Path, test_frac: float) -> tuple[Path, Path]:
    """Stratified split: the first `test_frac` of each (shuffled) class is the test set."""
    rng = random.Random(SEED)
    train, test = [], []
    for label, texts in data.items():
        cut = round(len(texts) * test_frac)
        test += [(t, label) for t in texts[:cut]]
        train += [(t, label) for t in texts[cut:]]
    rng.shuffle(train)
    rng.shuffle(test)
    folder.mkdir(parents=True, exist_ok=True)
    paths = folder / "train.csv", folder / "test.csv"
    for path, rows in zip(paths, (train, test), strict=True):
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "label"])
            writer.writerows(rows)
    return paths


def rnn_command() -> list[str]:
    found = shutil.which("rnn")
    return [found] if found else [sys.executable, "-m", "rnncli"]


def run(args: list[str], env: dict[str, str]) -> str:
    done = subprocess.run(rnn_command() + args, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        sys.exit(f"rnn {' '.join(args)} failed ({done.returncode}):\n{done.stderr[-2000:]}")
    return done.stdout


def measure(name: str, data: dict[str, list[str]], work: Path, train_args: list[str], env: dict[str, str]) -> dict:
    train, test = write_split(data, work / name, test_frac=0.2)
    counts = {label: len(texts) for label, texts in data.items()}
    print(f"{name}: {sum(counts.values())} examples {counts}, 80/20 split", flush=True)
    run(["train", str(train), "--task", "classify", *train_args, "--out", str(work / f"run-{name}")], env)
    return json.loads(run(["eval", str(work / f"run-{name}"), str(test), "--json"], env))


def measure_files(name: str, spec: str, work: Path, train_args: list[str], env: dict[str, str]) -> dict:
    """A set given as TRAIN:TEST[:VAL] paths, trained and scored as a user would."""
    paths = spec.split(":")
    if len(paths) not in (2, 3) or not all(Path(p).is_file() for p in paths):
        sys.exit(f"--files {name}={spec}: give TRAIN:TEST or TRAIN:TEST:VAL, each an existing file")
    print(f"{name}: train {paths[0]}, test {paths[1]}" + (f", validation {paths[2]}" if len(paths) == 3 else ""))
    val = ["--val", paths[2]] if len(paths) == 3 else []
    run(["train", paths[0], "--task", "classify", *val, *train_args, "--out", str(work / f"run-{name}")], env)
    return json.loads(run(["eval", str(work / f"run-{name}"), paths[1], "--json"], env))


def table(results: dict[str, dict], model_name: str) -> str:
    lines = ["| set | model | accuracy | macro F1 |", "|---|---|---|---|"]
    for name, document in results.items():
        model = document["model"]
        lines.append(f"| {name} | {model_name} | {model['accuracy']:.3f} | {model['macro_f1']:.3f} |")
        for baseline, result in document["baselines"].items():
            lines.append(f"| {name} | {baseline} | {result['accuracy']:.3f} | {result['macro_f1']:.3f} |")
    return "\n".join(lines)


def use_fortunes(folder: Path) -> None:
    global ROOT
    ROOT = folder


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--time", default="2m", help="rnn train's --time for each set (default 2m)")
    parser.add_argument("--keep", type=Path, help="write the data and runs here and keep them")
    parser.add_argument("--train-args", default="", help='more rnn train options, e.g. "--tokenizer char"')
    parser.add_argument("--sets", default="language,topic", help="which sets (default language,topic)")
    parser.add_argument("--fortunes", type=Path, default=ROOT, help=f"the fortunes folder (default {ROOT})")
    parser.add_argument("--files", action="append", default=[], help="NAME=TRAIN:TEST[:VAL], repeatable")
    args = parser.parse_args()
    use_fortunes(args.fortunes)
    if (
        args.sets
        and not (ROOT / "computers").is_file()
        or not all((ROOT / d).is_dir() for d in ("de", "it", "es", "ru"))
    ):
        sys.exit(f"the fortunes files are missing under {ROOT}: install them with apt-get install -y {PACKAGES}")
    env = dict(os.environ, OMP_NUM_THREADS=os.environ.get("OMP_NUM_THREADS", "1"))
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(Path(__file__).resolve().parents[1]), env.get("PYTHONPATH")]))
    builders = {"language": lambda: language_set(1000, 80), "topic": lambda: topic_set(500, 300)}
    with tempfile.TemporaryDirectory() as temporary:
        work = args.keep or Path(temporary)
        train_args = ["--time", args.time, *shlex.split(args.train_args)]
        results = {
            name: measure(name, builders[name](), work, train_args, env) for name in filter(None, args.sets.split(","))
        }
        for name, spec in (item.split("=", 1) for item in args.files):
            results[name] = measure_files(name, spec, work, train_args, env)
    print(table(results, f"rnn {args.train_args}" if args.train_args else "rnn defaults (BiLSTM, words)"))


if __name__ == "__main__":
    main()
