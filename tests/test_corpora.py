"""Real-world corpora through the real commands: every tokenizer, mixed scripts, folders, encodings, the cache."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
from safetensors import safe_open
from typer.testing import CliRunner

from rnncli.cli import app

runner = CliRunner()
TINY = [
    "--hidden-size",
    "16",
    "--num-layers",
    "1",
    "--embed-size",
    "8",
    "--seq-len",
    "16",
    "--batch-size",
    "4",
    "--steps",
    "4",
    "--eval-every",
    "4",
    "--device",
    "cpu",
    "--quiet",
]
WORDS = [
    "the",
    "river",
    "“quiet”",
    "don’t",
    "Москва",
    "река",
    "тихая",
    "東京",
    "の",
    "川",
    "🙂",
    "🌊",
    "naïve",
    "café",
    "—",
    "über",
    "ёлка",
    "猫",
    "👩‍💻",
    "end.",
]


def mixed_text(lines: int = 300, seed: int = 0) -> str:
    """Latin with curly quotes and accents, Cyrillic, CJK and emoji (with a ZWJ sequence), in lines."""
    rng = random.Random(seed)
    return "".join(" ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9))) + "\n" for _ in range(lines))


@pytest.fixture(scope="module")
def mixed(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("mixed") / "mixed.txt"
    path.write_text(mixed_text(), encoding="utf-8")
    return path


def train(*args: str) -> str:
    result = runner.invoke(app, ["train", *args])
    assert result.exit_code == 0, result.output
    return result.stderr


def meta_of(run: Path) -> dict:
    """The rnncli document in a checkpoint's safetensors metadata, read as any other tool would."""
    with safe_open(str(run / "model.safetensors"), framework="pt") as handle:
        return json.loads(handle.metadata()["rnncli"])


@pytest.mark.parametrize(
    "kind, extra", [("char", []), ("byte", []), ("word", ["--min-count", "2"]), ("bpe", ["--vocab-size", "300"])]
)
def test_every_tokenizer_trains_samples_utf8_and_evaluates_on_mixed_scripts(kind, extra, mixed, tmp_path):
    run = tmp_path / kind
    train(str(mixed), "--tokenizer", kind, *extra, *TINY, "--out", str(run))
    assert meta_of(run)["tokenizer"]["kind"] == kind
    sampled = runner.invoke(app, ["sample", str(run), "--length", "80", "--seed", "3", "--prime", "река "])
    assert sampled.exit_code == 0, sampled.output
    sampled.stdout_bytes.decode("utf-8")  # strict: valid UTF-8 even from bytes the model strung together
    assert sampled.stdout  # something was generated
    result = runner.invoke(app, ["eval", str(run), str(mixed), "--json"])
    assert result.exit_code == 0, result.output
    scores = json.loads(result.stdout)
    assert scores["tokenizer"] == kind and scores["bpc"] > 0 and scores["bpb"] > 0
    # bits per byte are bits per character spread over more bytes (most characters here take 2-4 bytes)
    assert scores["bpb"] < scores["bpc"]
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert {"val_bpc", "val_bpb"} <= history[-1].keys()


def test_a_folder_trains_with_glob_skipping_hidden_and_binary_files(tmp_path):
    src = tmp_path / "src"
    (src / "pkg").mkdir(parents=True)
    (src / ".git").mkdir()
    (src / "a.py").write_text("def add(a, b):\n    return a + b\n" * 40)
    (src / "pkg" / "b.py").write_text("class Point:\n    x: int = 0\n" * 40)
    (src / "notes.md").write_text("# not python\n" * 40)
    (src / ".git" / "c.py").write_text("hidden = True\n" * 40)
    (src / "blob.bin").write_bytes(b"\x00\x01\x02" * 100)
    run = tmp_path / "py"
    train(str(src), "--glob", "*.py", *TINY, "--out", str(run))
    data = meta_of(run)["data"]
    assert data["num_files"] == 2 and data["inputs"] == [str(src)]
    assert data["num_chars"] == len((src / "a.py").read_text()) + len((src / "pkg" / "b.py").read_text())
    everything = train(str(src), *TINY[:-1], "--out", str(tmp_path / "all"))  # not --quiet: see the warning
    assert "blob.bin: looks like binary data; skipped" in everything
    assert meta_of(tmp_path / "all")["data"]["num_files"] == 3  # a.py, b.py, notes.md


def test_resume_finds_a_folder_again_and_keeps_its_tokenizer(tmp_path):
    src = tmp_path / "texts"
    src.mkdir()
    for i in range(3):
        (src / f"{i}.txt").write_text(mixed_text(80, seed=i), encoding="utf-8")
    run = tmp_path / "run"
    train(str(src), "--tokenizer", "word", *TINY, "--out", str(run))
    before = meta_of(run)["tokenizer"]
    result = runner.invoke(app, ["train", "--resume", str(run), "--steps", "8", "--quiet"])
    assert result.exit_code == 0, result.output
    after = meta_of(run)
    assert after["tokenizer"] == before and after["train"]["steps"] == 8


def test_other_encodings_and_undecodable_bytes(tmp_path):
    latin = tmp_path / "latin.txt"
    latin.write_bytes("café crème brûlée, à la carte\n".encode("latin-1") * 60)
    refused = runner.invoke(app, ["train", str(latin), *TINY, "--out", str(tmp_path / "a")])
    assert refused.exit_code == 2
    assert "latin.txt: not valid UTF-8 at byte offset 3" in refused.stderr and "--encoding" in refused.stderr
    train(str(latin), "--encoding", "latin-1", *TINY, "--out", str(tmp_path / "b"))
    read = meta_of(tmp_path / "b")
    assert "é" in read["tokenizer"]["chars"]
    # bits per byte count the text's UTF-8 bytes (é is 2), not the file's (é is 1 in latin-1)
    assert read["data"]["num_utf8_bytes"] == len(("café crème brûlée, à la carte\n" * 60).encode("utf-8"))
    assert read["data"]["num_bytes"] == latin.stat().st_size
    wide = tmp_path / "wide"
    wide.mkdir()
    (wide / "utf16.txt").write_text(mixed_text(60), encoding="utf-16")  # NUL bytes everywhere: still text
    train(str(wide), "--encoding", "utf-16", *TINY, "--out", str(tmp_path / "d"))
    assert meta_of(tmp_path / "d")["data"]["num_chars"] == len(mixed_text(60))
    train(str(latin), "--errors", "replace", *TINY, "--out", str(tmp_path / "c"))
    assert "\ufffd" in meta_of(tmp_path / "c")["tokenizer"]["chars"]


def test_bom_and_windows_line_endings_read_as_the_same_text(tmp_path):
    from rnncli.tasks.language_model.training import prepare_text

    text = mixed_text(120)
    plain, windows = tmp_path / "plain.txt", tmp_path / "windows.txt"
    plain.write_text(text, encoding="utf-8")
    windows.write_bytes(b"\xef\xbb\xbf" + text.replace("\n", "\r\n").encode("utf-8"))
    a, b = prepare_text(str(plain)), prepare_text(str(windows))
    assert a.ids.tolist() == b.ids.tolist() and a.tokenizer.to_dict() == b.tokenizer.to_dict()


def test_the_token_file_is_reused_and_a_damaged_one_rebuilt(tmp_path, monkeypatch):
    from rnncli.tasks.language_model.data.token_cache import TokenCache
    from rnncli.tasks.language_model.training import prepare_text

    monkeypatch.setenv("RNN_CACHE_DIR", str(tmp_path / "cache"))
    corpus = tmp_path / "c.txt"
    corpus.write_text(mixed_text(100), encoding="utf-8")
    first = prepare_text(str(corpus))
    second = prepare_text(str(corpus))
    assert not first.reused and second.reused and second.ids.tolist() == first.ids.tolist()
    (token_file,) = (tmp_path / "cache" / "tokens").glob("*.tokens")
    token_file.write_bytes(token_file.read_bytes()[:-1])  # a truncated entry is not trusted
    third = prepare_text(str(corpus), cache=TokenCache())
    assert not third.reused and third.ids.tolist() == first.ids.tolist()
    corpus.write_text(mixed_text(100, seed=1), encoding="utf-8")  # new content, new entry
    assert not prepare_text(str(corpus)).reused


def test_ids_are_stored_in_the_smallest_type(tmp_path):
    from rnncli.tasks.language_model.config import TextConfig
    from rnncli.tasks.language_model.training import prepare_text

    corpus = tmp_path / "c.txt"
    corpus.write_text(mixed_text(100), encoding="utf-8")
    assert str(prepare_text(str(corpus)).ids.dtype) == "torch.uint8"  # < 256 characters
    many = tmp_path / "many.txt"
    many.write_text("".join(chr(0x4E00 + i) for i in range(400)) * 3, encoding="utf-8")
    assert str(prepare_text(str(many), TextConfig()).ids.dtype) == "torch.uint16"
    assert prepare_text(str(many), TextConfig()).reused  # a uint16 file is read back too


def test_unknown_characters_in_a_prompt(mixed, tmp_path):
    run = tmp_path / "run"
    train(str(mixed), *TINY, "--out", str(run))
    refused = runner.invoke(app, ["sample", str(run), "--prime", "ZJ река", "--length", "5"])
    assert refused.exit_code == 2
    assert "'Z'" in refused.stderr and "'J'" in refused.stderr and "--unknown skip" in refused.stderr
    skipped = runner.invoke(app, ["sample", str(run), "--prime", "ZJ река", "--length", "5", "--unknown", "skip"])
    assert skipped.exit_code == 0, skipped.output


@pytest.mark.parametrize(
    "args, message",
    [
        (
            ["--tokenizer", "sentencepiece"],
            "--tokenizer: unknown value 'sentencepiece' (choose one of: char, byte, word, bpe)",
        ),
        (["--vocab-size", "500"], "--vocab-size applies to --tokenizer bpe, not char"),
        (["--tokenizer", "bpe", "--vocab-size", "100"], "--vocab-size must be a whole number from 257"),
        (["--tokenizer", "byte", "--min-count", "3"], "--min-count applies to --tokenizer word, not byte"),
        (["--encoding", "klingon"], "--encoding: unknown encoding 'klingon'"),
        (["--errors", "ignore"], "--errors: unknown value 'ignore' (choose one of: strict, replace)"),
        (["--glob", "*.py"], "--glob '*.py' selects files in a folder; none of the inputs is a folder"),
    ],
)
def test_contradictory_or_unknown_text_options_are_one_line(args, message, mixed, tmp_path):
    result = runner.invoke(app, ["train", str(mixed), *args, *TINY, "--out", str(tmp_path / "r")])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1


def test_coverage_counts_the_unknown_tokens_of_a_word_corpus(tmp_path):
    from rnncli.tasks.language_model.config import TextConfig
    from rnncli.tasks.language_model.training import coverage, prepare_text

    corpus = tmp_path / "w.txt"
    corpus.write_text("the cat sat\n" * 9 + "the dog ran\n", encoding="utf-8")  # dog, ran: seen once
    prepared = prepare_text(str(corpus), TextConfig(tokenizer="word", min_count=2))
    assert prepared.stats["num_tokens"] == 40 and prepared.stats["num_unknown"] == 2
    assert coverage(prepared) == pytest.approx(38 / 40)
    again = prepare_text(str(corpus), TextConfig(tokenizer="word", min_count=2))
    assert again.reused and coverage(again) == coverage(prepared)


def test_an_unwritable_cache_falls_back_and_a_full_disk_is_one_clear_error(tmp_path, monkeypatch):
    import errno
    import tempfile

    from rnncli.core.errors import RuntimeFailure
    from rnncli.tasks.language_model.data import token_cache as tokencache
    from rnncli.tasks.language_model.training import prepare_text

    cache = tmp_path / "cache"
    monkeypatch.setenv("RNN_CACHE_DIR", str(cache))
    corpus = tmp_path / "c.txt"
    corpus.write_text(mixed_text(50), encoding="utf-8")
    real_probe = tempfile.TemporaryFile

    def refuse_the_cache(*args, dir=None, **kwargs):  # root ignores chmod, so refuse by hand
        if dir is not None and str(dir).startswith(str(cache)):
            raise PermissionError(errno.EACCES, "Permission denied")
        return real_probe(*args, dir=dir, **kwargs)

    monkeypatch.setattr(tokencache.tempfile, "TemporaryFile", refuse_the_cache)
    left_before = set(Path(tempfile.gettempdir()).glob("rnncli-*"))
    prepared = prepare_text(str(corpus))
    assert prepared.stats["num_tokens"] > 0
    assert not list(cache.glob("tokens/*.tokens"))  # written elsewhere ...
    assert set(Path(tempfile.gettempdir()).glob("rnncli-*")) == left_before  # ... and not left behind
    assert prepared.ids.tolist() == prepare_text(str(corpus)).ids.tolist()  # the mapped ids are still readable
    monkeypatch.undo()
    monkeypatch.setenv("RNN_CACHE_DIR", str(cache))

    def disk_full(fd):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(tokencache.os, "fsync", disk_full)
    corpus.write_text(mixed_text(60), encoding="utf-8")
    with pytest.raises(RuntimeFailure, match="could not write the token file \\(No space left on device\\)"):
        prepare_text(str(corpus))
    assert not [p for p in (cache / "tokens").iterdir() if p.suffix in (".tmp", ".tokens")]
