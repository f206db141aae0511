"""The encoder-decoder with attention (Bahdanau et al. 2015; Luong et al. 2015), as OpenNMT and JoeyNMT build it.

A bidirectional recurrent encoder reads the source; each direction is its own
stack of ``hidden_size / 2`` units, run on packed sequences (fused layers) or
length by length (reference cells), so padding never changes a state. The two
final states, side by side, start the decoder. At each target step the decoder
reads the previous token and its previous attentional vector (input feeding,
Luong section 3.3), attends over the source (padding masked out) and predicts
the next token. With ``copy`` (one vocabulary on both sides), a gate mixes
that prediction with the attention weights laid onto the source's own tokens,
so a token can be copied from the source as well as generated (the pointer-
generator of See et al. 2017); the model then gives log-probabilities, which
every consumer's log-softmax leaves unchanged. The model does no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import nn
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnncli.core.cells import ReferenceRecurrent
from rnncli.core.layers import build_recurrent
from rnncli.core.settings import ModelConfig
from rnncli.tasks.translate.config import TranslateConfig

State = tuple[torch.Tensor, ...]


def as_state(hx) -> State:
    return hx if isinstance(hx, tuple) else (hx,)


def as_hx(state: State):
    return state if len(state) == 2 else state[0]


def reverse_padded(x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """Each sequence of ``x`` (B, S, ...) reversed within its own length; padding stays at the end."""
    steps = torch.arange(x.shape[1], device=x.device).unsqueeze(0)  # (1, S)
    back = lengths.unsqueeze(1) - 1 - steps  # (B, S)
    index = torch.where(back >= 0, back, steps)
    return x.gather(1, index.view(*index.shape, *([1] * (x.dim() - 2))).expand_as(x))


def run_direction(rnn: nn.Module, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, State]:
    """Outputs (B, S, H) and the state after each sequence's last real token, padding never read."""
    if not isinstance(rnn, ReferenceRecurrent):
        packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
        out, hx = rnn(packed)
        out, _ = pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])
        return out, as_state(hx)
    out, state = None, None
    for length in lengths.unique().tolist():  # the readable cells run each length on its own
        rows = (lengths == length).nonzero().squeeze(1)
        part, hx = rnn(x[rows, :length])
        part = F.pad(part, (0, 0, 0, x.shape[1] - length))  # (b, S, H)
        out = (part.new_zeros(x.shape[0], *part.shape[1:]) if out is None else out).index_copy(0, rows, part)
        parts = as_state(hx)
        state = state or tuple(p.new_zeros(p.shape[0], x.shape[0], p.shape[2]) for p in parts)
        state = tuple(s.index_copy(1, rows, p) for s, p in zip(state, parts, strict=True))
    return out, state


class Encoder(nn.Module):
    """Two recurrent stacks, one reading the source forwards, one backwards; their outputs side by side."""

    def __init__(self, config: TranslateConfig):
        super().__init__()
        half = ModelConfig(
            cell=config.cell,
            vocab_size=1,
            embed_size=config.embed_size,
            hidden_size=config.hidden_size // 2,
            num_layers=config.num_layers,
            dropout=config.dropout,
            impl=config.impl,
        )
        self.forwards = build_recurrent(half, config.embed_size)
        self.backwards = build_recurrent(half, config.embed_size)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> tuple[torch.Tensor, State]:
        out_f, state_f = run_direction(self.forwards, x, lengths)  # (B, S, H/2)
        out_b, state_b = run_direction(self.backwards, reverse_padded(x, lengths), lengths)
        memory = torch.cat([out_f, reverse_padded(out_b, lengths)], dim=-1)  # (B, S, H)
        state = tuple(torch.cat([f, b], dim=-1) for f, b in zip(state_f, state_b, strict=True))  # (L, B, H)
        return memory, state


class Attention(nn.Module):
    """Scores of the decoder state against every source position: additive (Bahdanau), dot or general (Luong)."""

    def __init__(self, kind: str, size: int):
        super().__init__()
        self.kind = kind
        if kind in ("general", "additive"):
            self.keys_of = nn.Linear(size, size, bias=False)
        if kind == "additive":
            self.query_of = nn.Linear(size, size)
            self.v = nn.Linear(size, 1, bias=False)

    def keys(self, memory: torch.Tensor) -> torch.Tensor:
        """What each source position is scored by, computed once per sentence: (B, S, H)."""
        return memory if self.kind == "dot" else self.keys_of(memory)

    def forward(self, query, keys, memory, mask) -> tuple[torch.Tensor, torch.Tensor]:
        """Context (N, H) and weights (N, S) for queries (N, H); ``mask`` (N, S) is True on real tokens."""
        if self.kind == "additive":
            scores = self.v(torch.tanh(keys + self.query_of(query).unsqueeze(1))).squeeze(2)  # (N, S)
        else:
            scores = torch.bmm(keys, query.unsqueeze(2)).squeeze(2)  # (N, S)
        weights = torch.softmax(scores.masked_fill(~mask, float("-inf")), dim=1)  # padding gets exactly 0
        return torch.bmm(weights.unsqueeze(1), memory).squeeze(1), weights


@dataclass
class Encoded:
    """A batch of sources as the decoder reads them."""

    memory: torch.Tensor  # (B, S, H)
    keys: torch.Tensor | None  # (B, S, H) or None without attention
    mask: torch.Tensor  # (B, S), True on real tokens
    state: State  # the decoder's first state, each (L, B, H)
    source: torch.Tensor  # (B, S): the source ids, where copying puts the attention's weight

    def select(self, rows: torch.Tensor) -> Encoded:
        keys = None if self.keys is None else self.keys[rows]
        state = tuple(s[:, rows] for s in self.state)
        return Encoded(self.memory[rows], keys, self.mask[rows], state, self.source[rows])


@dataclass
class Step:
    """The decoder between two tokens: its recurrent state and the attentional vector fed to the next input."""

    state: State
    feed: torch.Tensor  # (N, H)

    def select(self, rows: torch.Tensor) -> Step:
        return Step(tuple(s[:, rows] for s in self.state), self.feed[rows])


class Translator(nn.Module):
    def __init__(self, config: TranslateConfig):
        super().__init__()
        self.config = config
        V, E, H = config.total_vocab, config.embed_size, config.hidden_size
        self.source_embed = nn.Embedding(config.source_total, E, padding_idx=config.source_pad_id)
        self.target_embed = nn.Embedding(V, E, padding_idx=config.pad_id)
        self.encoder = Encoder(config)
        feeding = config.attention != "none"
        shape = ModelConfig(
            cell=config.cell,
            vocab_size=1,
            embed_size=E,
            hidden_size=H,
            num_layers=config.num_layers,
            dropout=config.dropout,
            impl=config.impl,
        )
        self.decoder = build_recurrent(shape, E + (H if feeding else 0))
        self.attention = Attention(config.attention, H) if feeding else None
        self.combine = nn.Linear(2 * H, H, bias=False) if feeding else None
        self.drop = nn.Dropout(config.dropout)
        self.out = nn.Linear(H, V)
        # the gate between generating and copying: from the context, the decoder's state and its input
        self.copy_gate = nn.Linear(2 * H + E, 1) if config.copies else None
        if config.tie_embeddings:  # one matrix reads and writes the target tokens (E == H, checked)
            self.out.weight = self.target_embed.weight

    def encode(self, source: torch.Tensor, lengths: torch.Tensor) -> Encoded:
        """Sources (B, S) padded with the pad id, and their lengths (B,)."""
        memory, state = self.encoder(self.drop(self.source_embed(source)), lengths)
        keys = None if self.attention is None else self.attention.keys(memory)
        return Encoded(memory, keys, source != self.config.source_pad_id, state, source)

    def start(self, encoded: Encoded) -> Step:
        return Step(encoded.state, encoded.memory.new_zeros(encoded.memory.shape[0], self.config.hidden_size))

    def step(self, tokens: torch.Tensor, step: Step, encoded: Encoded):
        """Logits (N, V) for the next token after ``tokens`` (N,), the next Step, and attention weights (N, S)."""
        embedded = self.drop(self.target_embed(tokens))  # (N, E)
        x = embedded if self.attention is None else torch.cat([embedded, step.feed], dim=1)  # input feeding
        out, hx = self.decoder(x.unsqueeze(1), as_hx(step.state))
        h = out[:, 0]  # (N, H)
        weights = None
        if self.attention is not None:
            context, weights = self.attention(h, encoded.keys, encoded.memory, encoded.mask)
            attentional = torch.tanh(self.combine(torch.cat([context, h], dim=1)))  # (N, H)
            logits = self.out(self.drop(attentional))
            if self.copy_gate is not None:
                generate = torch.sigmoid(self.copy_gate(torch.cat([context, h, embedded], dim=1)))  # (N, 1)
                logits = self.mix(logits, weights, encoded.source, generate)
            return logits, Step(as_state(hx), attentional), weights
        return self.out(self.drop(h)), Step(as_state(hx), h), weights

    @staticmethod
    def mix(logits: torch.Tensor, weights: torch.Tensor, source: torch.Tensor, generate: torch.Tensor):
        """log(g * softmax(logits) + (1 - g) * the attention's weight on each source token's id): (N, V)."""
        probs = generate.float() * torch.softmax(logits.float(), dim=-1)
        copied = (1 - generate.float()) * weights.float()  # padding has weight 0, so adds nothing
        probs = probs.scatter_add(1, source, copied)
        return torch.log(probs.clamp_min(1e-12))

    def forward(self, source: torch.Tensor, lengths: torch.Tensor, target_in: torch.Tensor) -> torch.Tensor:
        """Teacher forcing: logits (B, T, V) for every position of ``target_in`` (start token first)."""
        encoded = self.encode(source, lengths)
        step, logits = self.start(encoded), []
        for tokens in target_in.unbind(1):
            out, step, _ = self.step(tokens, step, encoded)
            logits.append(out)
        return torch.stack(logits, dim=1)


def check_training_fits(config: TranslateConfig, *, batch_size: int, pairs: list[tuple[list[int], list[int]]]) -> None:
    """The translator, its optimizer and a batch of the longest ``pairs`` fit in memory, before any is built."""
    from rnncli.core.memory import check_batch_fits, check_model_fits, widest_flag

    # no cap at len(pairs): a training batch draws --batch-size pairs with replacement (task.py)
    source_len = max((len(s) for s, _ in pairs), default=1)
    target_len = max((len(t) for _, t in pairs), default=1) + 1  # the end token

    flag = widest_flag(embed=config.embed_size, hidden=config.hidden_size)
    params = check_model_fits(lambda: Translator(config), flag=flag)
    check_batch_fits(
        params,
        floats=batch_size * _pair_floats(config, source_len, target_len),
        flag=f"{flag} with --batch-size",
        what=f"training on {batch_size:,} pairs of {source_len:,} and {target_len:,} tokens",
    )


def check_decoding_fits(model: Translator, *, rows: int, beam: int, source_len: int, steps: int) -> None:
    """``rows`` sentences x ``beam`` hypotheses (each with its copy of the source's encoding) fit in memory."""
    from rnncli.core.memory import check_batch_fits

    config = model.config
    per_hypothesis = source_len * 3 * config.hidden_size + 3 * config.total_vocab + steps
    check_batch_fits(
        sum(p.numel() for p in model.parameters()),
        floats=rows * (beam * per_hypothesis + _pair_floats(config, source_len, 1, training=False)),
        flag=f"--beam {beam}" if beam > 1 else "the input",
        what=f"{rows:,} sentences of {source_len:,} tokens x {beam:,} hypotheses",
        training=False,
        advice="use a smaller value" if beam > 1 else "split the longest sentences",
    )


def _pair_floats(config: TranslateConfig, source_len: int, target_len: int, *, training: bool = True) -> int:
    """Activations of one pair: the encoder's tokens, and the decoder's with their attention and logits."""
    from rnncli.core.memory import floats_per_token

    layers, E, H = config.num_layers, config.embed_size, config.hidden_size
    encoder = floats_per_token(embed=E, hidden=H, layers=layers, training=training)  # two directions of H/2
    # copying mixes in the attention: about half as many values again over the vocabulary (measured)
    outputs = config.total_vocab * 3 // 2 if config.copies else config.total_vocab
    # stepped token by token, each step keeps its own concatenations, dropout masks and log-softmax: measured
    # (sample pairs, --batch-size 100000) at about twice what a fused pass keeps
    decoder = 2 * floats_per_token(embed=E + H, hidden=H, layers=layers, outputs=outputs, training=training)
    decoder += 2 * source_len  # the attention's scores and weights
    return source_len * encoder + target_len * decoder
