"""Big inputs work in bounded memory: a long single line, a long prompt, a big file to inspect.

The default run checks the mechanisms (every forward call sees a bounded
number of tokens; inspect's memory does not grow with the file). The slow
tests run the real commands on a 10 MB single line, a 1 MB prompt and a 200 MB
file and measure the process's peak RSS.
"""

from __future__ import annotations

import os
import random
import subprocess
import sys
import tracemalloc
from pathlib import Path

import pytest
import torch
from conftest import REPETITIVE

from rnncli.core.settings import ModelConfig
from rnncli.tasks.language_model.logit_processors import DecodingSettings
from rnncli.tasks.language_model.metrics import line_log_probs, stream_log_probs
from rnncli.tasks.language_model.model import build_model
from rnncli.tasks.language_model.sampling import PRIME_CHUNK, sample_steps
from rnncli.tasks.language_model.text_report import inspect_text

ROOT = Path(__file__).resolve().parents[1]
WORDS = ["the", "fox", "dog", "runs", "over", "a", "lazy", "quick", "brown", "moral:"]


def words_text(num_chars: int, *, seed: int = 0, newline_every: int | None = None) -> str:
    rng = random.Random(seed)
    parts, size = [], 0
    while size < num_chars:
        word = rng.choice(WORDS)
        parts.append(word)
        size += len(word) + 1
        if newline_every and len(parts) % newline_every == 0:
            parts.append("\n")
    return " ".join(parts)[:num_chars]


@pytest.fixture
def tiny_model():
    torch.manual_seed(0)
    return build_model(ModelConfig(cell="gru", vocab_size=12, embed_size=3, hidden_size=4, num_layers=1))


def _record_widths(model, monkeypatch) -> list[int]:
    """The time length of every batch the model's forward sees."""
    widths: list[int] = []
    forward = model.forward

    def recording(x, state):
        widths.append(x.shape[1])
        return forward(x, state)

    monkeypatch.setattr(model, "forward", recording)
    return widths


def test_a_long_line_is_scored_in_bounded_pieces_and_agrees_with_the_stream(tiny_model, monkeypatch):
    line = torch.randint(0, 12, (20_000,), generator=torch.Generator().manual_seed(1)).tolist()
    expected = stream_log_probs(tiny_model, torch.tensor([0, *line])).sum().item()
    widths = _record_widths(tiny_model, monkeypatch)
    short = [[1, 2, 3], [4]]
    totals = line_log_probs(tiny_model, [short[0], line, short[1]], start_id=0, chunk=1024)
    assert max(widths) <= 1024
    assert totals[1] == pytest.approx(expected, rel=1e-5)
    assert totals[0] == pytest.approx(line_log_probs(tiny_model, [short[0]], start_id=0)[0], rel=1e-6)


def test_a_wide_model_is_scored_in_windows_its_width_bounds(monkeypatch):
    """Each forward call of eval holds its (rows, window, E) embeddings: a 16,384-wide one gets short windows."""
    from rnncli.tasks.language_model.metrics import ACTIVATIONS_PER_CHUNK, mean_loss

    torch.manual_seed(0)
    model = build_model(ModelConfig(cell="gru", vocab_size=12, embed_size=16_384, hidden_size=4, num_layers=1))
    widths = _record_widths(model, monkeypatch)
    mean_loss(model, torch.randint(0, 12, (10_000,), generator=torch.Generator().manual_seed(3)))
    rows = 9  # 10,000 tokens make 9 parallel streams
    assert max(widths) <= ACTIVATIONS_PER_CHUNK // (rows * 16_384) < 1024


def test_a_long_prompt_is_read_in_bounded_pieces(tiny_model, monkeypatch):
    prime = torch.randint(0, 12, (3 * PRIME_CHUNK + 5,), generator=torch.Generator().manual_seed(2)).tolist()
    settings = DecodingSettings(temperature=0.0).validate()
    widths = _record_widths(tiny_model, monkeypatch)
    tokens = [t for t, _ in sample_steps(tiny_model, prime, length=5, settings=settings, seeds=[0], newline_id=0)]
    assert max(widths) <= PRIME_CHUNK and len(tokens) == 5
    # the same first token as reading the whole prompt at once
    monkeypatch.undo()
    with torch.inference_mode():
        logits, _ = tiny_model(torch.tensor([[0, *prime]]), tiny_model.init_state(1, torch.device("cpu")))
    assert tokens[0] == [int(logits[0, -1].argmax())]


def _write_lines(path: Path, long_line: str) -> None:
    path.write_text("the fox\n" + long_line + "\na dog\n", encoding="utf-8")


def test_per_line_streams_a_long_line_and_agrees_with_scoring_it_whole(trained_run, tmp_path, monkeypatch):
    from rnncli.tasks.language_model import scoring
    from rnncli.tasks.language_model.checkpoint import load_checkpoint

    monkeypatch.setattr(scoring, "PIECE_CHARS", 30_000)  # several pieces, each several windows
    long_line = REPETITIVE * 16  # about 86,000 characters: beyond LONG_LINE_CHARS, so streamed
    assert len(long_line) > scoring.LONG_LINE_CHARS
    _write_lines(tmp_path / "lines.txt", long_line)
    ckpt = load_checkpoint(str(trained_run))
    records = list(scoring.score_lines(ckpt, str(tmp_path / "lines.txt")))
    start = scoring.start_token(ckpt.tokenizer)
    whole = [ckpt.tokenizer.encode(t) for t in ("the fox", long_line, "a dog")]
    expected = line_log_probs(ckpt.model, whole, start_id=start)
    assert [r["tokens"] for r in records] == [len(ids) for ids in whole]
    assert [r["log_prob"] for r in records] == pytest.approx(expected, rel=1e-6)
    assert records[1]["text"] == long_line


@pytest.mark.parametrize("kind", ["word", "bpe"])
def test_a_long_line_cut_into_pieces_encodes_as_the_whole_line(kind):
    from rnncli.core.tokenizer_settings import TokenizerSettings
    from rnncli.core.tokenizers import train_tokenizer
    from rnncli.tasks.language_model.scoring import _pieces

    text = (
        words_text(20_000, seed=7)
        .replace("fox", "fox,  'twas   ")
        .replace("dog", "dog's\t")
        .replace("lazy", "lazy\n\n ")
    )
    tokenizer = train_tokenizer(TokenizerSettings(kind=kind, vocab_size=300), lambda: [text])
    import rnncli.tasks.language_model.scoring as scoring

    original, scoring.PIECE_CHARS = scoring.PIECE_CHARS, 997
    try:
        pieces = list(_pieces(tokenizer, text, unknown="unk", where="line"))
    finally:
        scoring.PIECE_CHARS = original
    assert len(pieces) > 10
    assert [i for piece in pieces for i in piece] == tokenizer.encode(text)


def _per_line_peak(ckpt, path: Path) -> int:
    from rnncli.tasks.language_model.scoring import score_lines

    tracemalloc.start()
    try:
        for _ in score_lines(ckpt, str(path)):
            pass
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_per_line_memory_for_a_long_line_is_its_text_not_its_tokens(trained_run, tmp_path, monkeypatch):
    """A list of ids costs 8 bytes a token; the streamed line costs its text (held for its record) and a piece."""
    from rnncli.tasks.language_model import scoring
    from rnncli.tasks.language_model.checkpoint import load_checkpoint

    monkeypatch.setattr(scoring, "PIECE_CHARS", 1 << 16)
    ckpt = load_checkpoint(str(trained_run))
    small, big = tmp_path / "small.txt", tmp_path / "big.txt"
    _write_lines(small, REPETITIVE * 13)  # about 70 KB: just beyond LONG_LINE_CHARS
    _write_lines(big, REPETITIVE * 53)  # about 286 KB
    _per_line_peak(ckpt, small)  # the first call also pays one-time imports and caches
    grown = _per_line_peak(ckpt, big) - _per_line_peak(ckpt, small)
    extra = len(REPETITIVE) * 40
    assert grown < 4 * extra, grown / extra  # read whole and encoded as a list: about 10 bytes a character


def _inspect_peak(path: Path) -> int:
    tracemalloc.start()
    try:
        inspect_text(str(path), chunk_size=1 << 18)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def test_inspect_memory_does_not_grow_with_the_file(tmp_path):
    small, big = tmp_path / "small.txt", tmp_path / "big.txt"
    small.write_text(words_text(1 << 20))
    text = words_text(1 << 20, seed=1)
    with open(big, "w") as handle:
        for _ in range(8):  # 8 MB
            handle.write(text)
    _inspect_peak(small)  # the first call also pays one-time imports and caches
    grown = _inspect_peak(big) - _inspect_peak(small)
    assert grown < 1 << 20  # 7 MB more text, under 1 MB more memory: the text is never held


# --- slow: the real commands, peak RSS of the process ---------------------------------------------

PEAK_RSS = """
import resource, sys
import rnncli.cli
sys.argv = ["rnn", *sys.argv[1:]]
try:
    rnncli.cli.main()
except SystemExit as exc:
    code = exc.code
finally:
    print("PEAK_KB", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss, file=sys.stderr)
sys.exit(code)
"""


def _peak_mb(*args: str) -> tuple[float, subprocess.CompletedProcess]:
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1"}
    result = subprocess.run(
        [sys.executable, "-c", PEAK_RSS, *args], capture_output=True, text=True, env=env, timeout=600
    )
    peak = next(int(line.split()[1]) for line in result.stderr.splitlines() if line.startswith("PEAK_KB"))
    return peak / 1024, result


@pytest.fixture(scope="module")
def big_inputs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("big")
    line = folder / "line.txt"
    line.write_text(words_text(10_000_000))  # 10 MB, one line
    (folder / "prime.txt").write_text(words_text(1_000_000, seed=3))
    (folder / "tiny.txt").write_text(words_text(5_000, seed=4))
    return folder


@pytest.mark.slow  # about a minute: several processes on 10 MB of text
def test_ten_megabyte_single_line_trains_scores_and_inspects_in_bounded_memory(big_inputs):
    line, run = big_inputs / "line.txt", big_inputs / "run"
    baseline, _ = _peak_mb("inspect", str(big_inputs / "tiny.txt"))
    tiny = [
        "--hidden-size",
        "16",
        "--num-layers",
        "1",
        "--embed-size",
        "8",
        "--seq-len",
        "32",
        "--batch-size",
        "8",
        "--steps",
        "2",
        "--eval-every",
        "2",
        "--device",
        "cpu",
        "--quiet",
    ]
    commands = {  # megabytes over the baseline allowed; measured: 70, 81, 102, 0, 45
        "train": (["train", str(line), "--out", str(run), *tiny], 250),
        "eval --per-line": (["eval", str(run), str(line), "--per-line"], 150),
        "eval": (["eval", str(run), str(line)], 200),
        "inspect": (["inspect", str(line)], 50),
        # fed whole, the 1 MB prompt took 445 MB over the baseline
        "sample": (["sample", str(run), "--prime-file", str(big_inputs / "prime.txt"), "--length", "20"], 150),
    }
    for name, (args, limit) in commands.items():
        peak, result = _peak_mb(*args)
        print(f"{name}: {peak - baseline:.0f} MB over the baseline of {baseline:.0f} MB")
        assert result.returncode == 0, result.stderr
        assert peak - baseline < limit, (name, peak, baseline)


@pytest.mark.slow  # writes 200 MB and reads it once: about a minute
def test_inspect_a_200_megabyte_file_in_bounded_memory(tmp_path):
    path = tmp_path / "big.txt"
    block = (words_text(1 << 20, newline_every=12) + "\n").encode()
    with open(path, "wb") as handle:
        for _ in range(200):
            handle.write(block)
    baseline, _ = _peak_mb("inspect", str(ROOT / "README.md"))
    peak, result = _peak_mb("inspect", str(path), "--json")
    assert result.returncode == 0, result.stderr
    assert peak - baseline < 100


PREPARE_CHILD = """
import resource, sys
import torch
from rnncli.tasks.language_model.config import TextConfig
from rnncli.tasks.language_model.training import prepare_text
before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
prepared = prepare_text(sys.argv[1], TextConfig(tokenizer=sys.argv[2]))
assert prepared.stats["num_tokens"] > 0
after = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
print((after - before) // 1024)
"""


@pytest.mark.parametrize("tokenizer", ["char", pytest.param("word", marks=pytest.mark.slow)])  # word: ~20 s
def test_preparing_a_large_corpus_needs_memory_independent_of_its_size(tokenizer, tmp_path):
    """A 60 MB corpus is read and tokenised in chunks: holding it as text and int64 ids would be ~550 MB."""
    corpus = tmp_path / "big.txt"
    block = words_text(1 << 20, seed=1, newline_every=12)
    with open(corpus, "w", encoding="utf-8") as out:
        for i in range(60):
            out.write(block.replace("fox", f"fox{i % 7}"))
    env = {**os.environ, "PYTHONPATH": str(ROOT), "OMP_NUM_THREADS": "1", "RNN_CACHE_DIR": str(tmp_path / "c")}
    proc = subprocess.run(
        [sys.executable, "-c", PREPARE_CHILD, str(corpus), tokenizer],
        capture_output=True,
        text=True,
        env=env,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    grew_mb = int(proc.stdout.strip())
    print(f"{tokenizer}: preparing 60 MB grew the process by {grew_mb} MB")
    assert grew_mb < 200, f"preparing 60 MB grew the process by {grew_mb} MB"


# --- memory estimates of the other tasks' batches (in process; the training refusals are catalogue rows) ---


def _small_models():
    from rnncli.tasks.classify.config import ClassifierConfig
    from rnncli.tasks.classify.model import Classifier
    from rnncli.tasks.tag.config import TagConfig
    from rnncli.tasks.tag.model import TaggerModel, _no_penalties
    from rnncli.tasks.translate.config import TranslateConfig
    from rnncli.tasks.translate.model import Translator

    tag = TagConfig(vocab_size=50, char_vocab_size=30, num_tags=5)
    return (
        Classifier(ClassifierConfig(vocab_size=50, num_classes=3)),
        TaggerModel(tag, _no_penalties(tag.num_tags)),
        Translator(TranslateConfig(vocab_size=50)),
    )


def test_prediction_batches_and_beams_are_estimated_before_they_run(monkeypatch):
    from rnncli.core.errors import UsageError
    from rnncli.tasks.classify.model import check_prediction_fits
    from rnncli.tasks.tag.model import check_tagging_fits
    from rnncli.tasks.translate.model import check_decoding_fits

    monkeypatch.setenv("RNN_MAX_MEMORY", "1G")
    classifier, tagger, translator = _small_models()
    fine = [
        lambda: check_prediction_fits(classifier, rows=256, longest=200),
        lambda: check_tagging_fits(tagger, rows=64, longest=100, training=False),
        lambda: check_decoding_fits(translator, rows=64, beam=5, source_len=50, steps=101),
    ]
    for check in fine:
        check()  # ordinary sizes pass
    refused = {
        "the input: a batch of 256 texts of 1,000,000 tokens needs about": lambda: check_prediction_fits(
            classifier, rows=256, longest=1_000_000
        ),
        "the input: a batch of 64 sentences of 100,000 tokens needs about": lambda: check_tagging_fits(
            tagger, rows=64, longest=100_000, training=False
        ),
        "--beam 1000: 64 sentences of 100 tokens x 1,000 hypotheses needs about": lambda: check_decoding_fits(
            translator, rows=64, beam=1000, source_len=100, steps=201
        ),
    }
    for message, check in refused.items():
        with pytest.raises(UsageError, match="RNN_MAX_MEMORY") as caught:
            check()
        assert message in caught.value.message


def test_a_forecasters_size_is_estimated_before_it_is_built(monkeypatch):
    from rnncli.core.errors import UsageError
    from rnncli.tasks.forecast.config import ForecastConfig
    from rnncli.tasks.forecast.model import check_training_fits

    monkeypatch.setenv("RNN_MAX_MEMORY", "8G")
    check_training_fits(ForecastConfig(lookback=24), batch_size=64)  # the default size fits
    with pytest.raises(UsageError, match="--hidden-size: a model of .* parameters needs about 80.0 GB"):
        check_training_fits(ForecastConfig(lookback=24, hidden_size=65536), batch_size=64)
    with pytest.raises(UsageError, match="--hidden-size with --batch-size: training on 1,000,000 windows"):
        check_training_fits(ForecastConfig(lookback=24, hidden_size=512), batch_size=1_000_000)
