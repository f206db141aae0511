"""Translation on real parallel text: rnn's default translator against copying the source, on held-out pairs.

Two sets, built in a temporary folder (no text is kept in the repository):

- **m30k**: Multi30k German -> English (Elliott et al. 2016, https://github.com/multi30k/dataset,
  data/task1/raw): train on `train.de`/`train.en` (29,000 image captions), test on `test_2016_flickr`
  (1,000 pairs). Give the folder holding them with `--m30k DIR` (files `m30k_train.de`, ... or `train.de`, ...).
- **bible**: one language in two versions, the King James Bible (1769 spelling) -> the World English Bible
  (modern English), aligned by verse, read with `diatheke` from the SWORD modules of the Debian packages
  `sword-text-kjv` and `sword-text-web`. Whole books are held out for the test (`--test-books`, default the
  Gospel of Matthew); every other verse present in both trains.

For each set it runs, as a user would, `rnn train --task translate --source S --target T --time BUDGET` with
every other option at its default (or `--train-args`), then `rnn eval RUN --source S --target T --json` on the
held-out pairs (greedy; `--beams 1,5` adds beam search), and prints BLEU and chrF of the model beside
copying the source.

    OMP_NUM_THREADS=1 python benchmarks/translate_real.py --m30k /work/realdata --time 25m
    python benchmarks/translate_real.py --sets bible --time 3m --keep /tmp/real   # keep the data and runs
    python benchmarks/translate_real.py --sets m30k --beams 1,5                  # also with beam search
    python benchmarks/translate_real.py --sets m30k --m30k DIR --time 5m --train-args "--tokenizer char"
"""

from __future__ import annotations

import argparse
import html
import json
import os
import re
import shlex
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

KJV, WEB = "engKJV2006eb", "engWEB2015eb"  # the SWORD module names of sword-text-kjv and sword-text-web
WHOLE_BIBLE = "Gen 1:1-Rev 22:21"
# diatheke's OSIS output has one verse per line: maybe a heading, the reference, the verse with its markup.
BOOK = r"(?P<book>(?:I{1,3} )?[A-Z][a-z]+(?: [A-Za-z]+)*(?: \([A-Za-z]+\))?)"  # "II Kings", "Esther (Greek)"
VERSE = re.compile(BOOK + r" (?P<chapter>\d+):(?P<verse>\d+): (?P<text>.*)$")
M30K_NAMES = {"train": ("m30k_train", "train"), "test": ("m30k_test_2016_flickr", "test_2016_flickr")}


def parse_verses(text: str) -> dict[tuple[str, int, int], str]:
    """diatheke's OSIS output as {(book, chapter, verse): plain text}: headings before the reference, markup
    and the module's name dropped, entities decoded, whitespace squeezed."""
    verses = {}
    for line in text.splitlines():
        match = VERSE.search(line)
        if match:
            plain = html.unescape(re.sub(r"<[^>]*>", "", match["text"]))
            verses[(match["book"], int(match["chapter"]), int(match["verse"]))] = re.sub(r"\s+", " ", plain).strip()
    return verses


def read_bible(module: str) -> dict[tuple[str, int, int], str]:
    if shutil.which("diatheke") is None:
        sys.exit("diatheke not found: apt-get install diatheke sword-text-kjv sword-text-web")
    done = subprocess.run(["diatheke", "-b", module, "-f", "OSIS", "-k", WHOLE_BIBLE], capture_output=True)
    verses = parse_verses(done.stdout.decode("utf-8", errors="replace"))
    if not verses:
        sys.exit(f"diatheke printed no verses of {module}: is its package (sword-text-kjv, sword-text-web) installed?")
    return verses


def write_pairs(folder: Path, name: str, pairs: list[tuple[str, str]], suffixes: tuple[str, str]) -> tuple[Path, Path]:
    paths = folder / f"{name}.{suffixes[0]}", folder / f"{name}.{suffixes[1]}"
    for side, path in enumerate(paths):
        path.write_text("".join(pair[side] + "\n" for pair in pairs), encoding="utf-8")
    return paths


def bible_set(folder: Path, test_books: list[str]) -> dict[str, tuple[Path, Path]]:
    """KJV -> WEB verse pairs: the test books held out, every other verse both versions have trains."""
    old, new = read_bible(KJV), read_bible(WEB)
    # both versions have the verse, and neither is much longer (WEB's last verse carries its glossary)
    keys = [
        k
        for k in old
        if old[k] and new.get(k) and max(len(old[k]), len(new[k])) < 3 * min(len(old[k]), len(new[k])) + 50
    ]
    unknown = set(test_books) - {book for book, _, _ in keys}
    if unknown:
        sys.exit(f"no such book in both versions: {', '.join(sorted(unknown))} (give names as diatheke prints them)")
    train = [(old[k], new[k]) for k in keys if k[0] not in test_books]
    test = [(old[k], new[k]) for k in keys if k[0] in test_books]
    return {
        "train": write_pairs(folder, "train", train, ("kjv", "web")),
        "test": write_pairs(folder, "test", test, ("kjv", "web")),
    }


def m30k_set(folder: Path) -> dict[str, tuple[Path, Path]]:
    """Multi30k's files where they are: German source, English target."""
    found = {}
    for split, names in M30K_NAMES.items():
        for name in names:
            if (folder / f"{name}.de").is_file() and (folder / f"{name}.en").is_file():
                found[split] = (folder / f"{name}.de", folder / f"{name}.en")
                break
        else:
            sys.exit(f"{folder}: no {names[0]}.de/.en or {names[1]}.de/.en (Multi30k, data/task1/raw)")
    return found


def rnn(*args: str, capture: bool = False) -> str:
    """Run the CLI of this checkout; its progress goes to the terminal unless captured."""
    command = [sys.executable, "-m", "rnncli", *args]
    print("$ rnn " + shlex.join(args), flush=True)
    done = subprocess.run(command, stdout=subprocess.PIPE if capture else None, text=True)
    if done.returncode != 0:
        sys.exit(f"rnn {args[0]} failed with exit status {done.returncode}")
    return done.stdout if capture else ""


def run_set(name: str, files: dict[str, tuple[Path, Path]], out: Path, args: argparse.Namespace) -> dict:
    budget, extra, beams = args.time, shlex.split(args.train_args), args.beams.split(",")
    run = out / f"run_{name}"
    (src, tgt), (test_src, test_tgt) = files["train"], files["test"]
    started = time.monotonic()
    rnn("train", "--task", "translate", "--source", str(src), "--target", str(tgt), "--time", budget,
        "--out", str(run), *extra)  # fmt: skip
    result = {"set": name, "train_s": round(time.monotonic() - started, 1)}
    for beam in beams:
        document = rnn("eval", str(run), "--source", str(test_src), "--target", str(test_tgt), "--beam", beam,
                       "--json", capture=True)  # fmt: skip
        result[f"beam{beam}"] = json.loads(document)
    return result


def table(results: list[dict]) -> str:
    """One row per set and decoding: the model's BLEU and chrF beside copying the source's."""
    lines = [
        "| set | test pairs | train s | decoding | BLEU | chrF | copy BLEU | copy chrF |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        for key in (k for k in r if k.startswith("beam")):
            model, copy = r[key]["model"], r[key]["copy_source"]
            lines.append(
                f"| {r['set']} | {r[key]['pairs']:,} | {r['train_s']:.0f} | {r[key]['decoding']} "
                f"| {model['bleu']:.2f} | {model['chrf']:.2f} | {copy['bleu']:.2f} | {copy['chrf']:.2f} |"
            )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--sets", default="m30k,bible", help="comma-separated: m30k, bible")
    parser.add_argument("--m30k", type=Path, default=Path("/work/realdata"), help="folder of Multi30k's raw files")
    parser.add_argument("--test-books", default="Matthew", help="comma-separated books held out of the Bible set")
    parser.add_argument("--time", default="25m", help="rnn train --time for each set")
    parser.add_argument("--train-args", default="", help="more rnn train options, e.g. '--tokenizer char'")
    parser.add_argument("--beams", default="1", help="comma-separated beam sizes to evaluate with, e.g. 1,5")
    parser.add_argument("--keep", type=Path, help="write data and runs here and keep them")
    args = parser.parse_args()
    out = args.keep or Path(tempfile.mkdtemp(prefix="translate_real_"))
    out.mkdir(parents=True, exist_ok=True)
    results = []
    try:
        for name in [s.strip() for s in args.sets.split(",") if s.strip()]:
            folder = out / name
            folder.mkdir(exist_ok=True)
            if name == "m30k":
                files = m30k_set(args.m30k)
            elif name == "bible":
                files = bible_set(folder, [b.strip() for b in args.test_books.split(",")])
            else:
                sys.exit(f"--sets: unknown set {name!r} (m30k, bible)")
            results.append(run_set(name, files, folder, args))
            print(json.dumps(results[-1]), flush=True)
    finally:
        if args.keep is None:
            shutil.rmtree(out, ignore_errors=True)
    print(table(results))


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
