"""The tagger: word embeddings and a character encoder per word, bidirectional recurrent layers, a tag per token.

The recipe of Lample et al. (2016), "Neural Architectures for Named Entity Recognition": a word's
embedding is joined by the final states of a character BiLSTM (any ``--cell``) run over its spelling (so unseen words,
capitals and suffixes are seen), a bidirectional recurrent stack reads the sentence, and a linear layer
scores every tag at every token; with ``crf`` a linear-chain CRF scores whole tag sequences. The model
does no I/O. Sentences are packed (``pack_padded_sequence``), so padding never changes a sentence's tags.
"""

from __future__ import annotations

import dataclasses

import torch
from torch import nn
from torch.nn import functional as F
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from rnncli.core.cells import ReferenceRecurrent
from rnncli.core.min_cells import MinRecurrent
from rnncli.core.settings import MIN_CELLS
from rnncli.tasks.tag.config import TagConfig
from rnncli.tasks.tag.crf import CRF, Penalties, viterbi


class CharEncoder(nn.Module):
    """Each word's characters -> the final forward and backward states of a bidirectional ``--cell``: (N, 2C).

    The same cell and implementation as the sentence layers (fused, or the reference cells), one layer of
    ``char_hidden_size``. The forward direction ends at a word's last character, the backward one at its
    first, so the two final states are the outputs there.
    """

    def __init__(self, config: TagConfig):
        super().__init__()
        self.embed = nn.Embedding(config.char_vocab_size, config.char_embed_size, padding_idx=0)
        shape = dataclasses.replace(config, hidden_size=config.char_hidden_size, num_layers=1, dropout=0.0)
        self.rnn = build_bidirectional(shape, config.char_embed_size)

    def forward(self, chars: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        if not isinstance(self.rnn, ReferenceBidirectional):  # the fused module's final states: no unpacking
            packed = pack_padded_sequence(self.embed(chars), lengths.cpu(), batch_first=True, enforce_sorted=False)
            h = self.rnn(packed)[1]
            h = h[0] if isinstance(h, tuple) else h  # (2, N, C): the LSTM's (h, c), or h
            return torch.cat([h[0], h[1]], dim=-1)
        out = run_bidirectional(self.rnn, self.embed(chars), lengths)  # (N, L, 2C)
        C = out.shape[2] // 2
        last = (lengths.to(out.device) - 1).view(-1, 1, 1).expand(-1, 1, C)
        return torch.cat([out[:, :, :C].gather(1, last).squeeze(1), out[:, 0, C:]], dim=-1)  # (N, 2C)


def run_bidirectional(rnn: nn.Module, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
    """(B, T, I) padded -> (B, T, 2H): packed through a fused module, or the reference cells' own masking."""
    if isinstance(rnn, ReferenceBidirectional):
        return rnn(x, lengths)
    packed = pack_padded_sequence(x, lengths.cpu(), batch_first=True, enforce_sorted=False)
    out, _ = rnn(packed)
    return pad_packed_sequence(out, batch_first=True, total_length=x.shape[1])[0]


def build_bidirectional(config: TagConfig, input_size: int) -> nn.Module:
    """PyTorch's fused bidirectional module for ``config.cell``, or the reference (or min) cells run both ways."""
    if config.impl == "reference" or config.cell in MIN_CELLS:
        return ReferenceBidirectional(config, input_size)
    common = dict(
        input_size=input_size,
        hidden_size=config.hidden_size,
        num_layers=config.num_layers,
        dropout=config.dropout if config.num_layers > 1 else 0.0,
        batch_first=True,
        bidirectional=True,
    )
    if config.cell == "lstm":
        return nn.LSTM(**common)
    if config.cell == "gru":
        return nn.GRU(**common)
    return nn.RNN(nonlinearity="relu" if config.cell == "rnn-relu" else "tanh", **common)


class ReferenceBidirectional(nn.Module):
    """The reference cells of rnncli/core/cells.py, one stack per direction and layer.

    The backward direction reads each sentence reversed within its own length, so padding at the
    end never reaches a real token. minGRU and minLSTM run here too, both ways, as the parallel
    scan (``--impl fused``) or step by step (``--impl reference``).
    """

    def __init__(self, config: TagConfig, input_size: int):
        super().__init__()
        self.dropout = config.dropout
        sizes = [input_size] + [2 * config.hidden_size] * (config.num_layers - 1)
        self.forward_layers = nn.ModuleList(_one_way(config, n) for n in sizes)
        self.backward_layers = nn.ModuleList(_one_way(config, n) for n in sizes)

    def forward(self, x: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        T = x.shape[1]
        steps = torch.arange(T, device=x.device).unsqueeze(0)  # (1, T)
        flip = torch.where(steps < lengths.unsqueeze(1), lengths.unsqueeze(1) - 1 - steps, steps)  # (B, T)
        index = flip.unsqueeze(2)
        for k, (fwd, bwd) in enumerate(zip(self.forward_layers, self.backward_layers, strict=True)):
            if k > 0:
                x = F.dropout(x, self.dropout, training=self.training)
            ahead, _ = fwd(x)  # (B, T, H)
            back, _ = bwd(x.gather(1, index.expand(-1, -1, x.shape[2])))
            x = torch.cat([ahead, back.gather(1, index.expand(-1, -1, back.shape[2]))], dim=-1)  # (B, T, 2H)
        return x


def _one_way(config: TagConfig, input_size: int) -> nn.Module:
    """One layer, one direction: the reference cell, or a minGRU/minLSTM layer."""
    if config.cell in MIN_CELLS:
        return MinRecurrent(config.cell, input_size, config.hidden_size, parallel=config.impl == "fused")
    return ReferenceRecurrent(config.cell, input_size, config.hidden_size)


class TaggerModel(nn.Module):
    """(words, chars) of a batch of sentences -> emission scores (B, T, K); ``crf`` adds sequence scores."""

    def __init__(self, config: TagConfig, penalties: Penalties):
        super().__init__()
        self.config = config
        self.words = nn.Embedding(config.vocab_size, config.embed_size, padding_idx=0)
        self.chars = CharEncoder(config)
        self.rnn = build_bidirectional(config, config.embed_size + 2 * config.char_hidden_size)
        self.head = nn.Linear(2 * config.hidden_size, config.num_tags)
        self.crf = CRF(penalties) if config.crf else None
        self.penalties = penalties  # decoding without a CRF keeps to legal sequences too

    def forward(self, batch: dict[str, torch.Tensor], *, loss_over: torch.Tensor | None = None) -> torch.Tensor:
        """Emission scores (B, T, K); with ``loss_over``, the loss summed over the batch's tokens divided by it.

        Training calls the model with ``loss_over`` so that the whole loss is computed inside the forward:
        wrapped in DistributedDataParallel, that is what synchronises the gradients of every parameter.
        """
        emissions = self.emissions(batch)
        if loss_over is None:
            return emissions
        return self.loss_of(emissions, batch) / loss_over

    def loss_of(self, emissions: torch.Tensor, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """The loss summed over the batch's tokens: the CRF's negative log-likelihood, or cross-entropy."""
        mask, tags = batch["mask"], batch["tags"]
        if self.crf is not None:
            return self.crf.nll(emissions, tags, mask).sum()
        return F.cross_entropy(emissions[mask].float(), tags[mask], reduction="sum")

    def emissions(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        words, lengths = batch["words"], batch["lengths"]  # (B, T), (B,)
        if self.training and self.config.word_dropout > 0:  # teach the unknown word (id 1)
            drop = torch.rand(words.shape, device=words.device) < self.config.word_dropout
            words = torch.where(drop & (words > 0), torch.ones_like(words), words)
        mask = batch["mask"]  # (B, T)
        spelled = self.chars(batch["chars"], batch["char_lengths"])  # (N, 2C) for the N real tokens
        char_part = words.new_zeros(*words.shape, spelled.shape[1], dtype=spelled.dtype)
        char_part[mask] = spelled
        x = torch.cat([self.words(words).to(spelled.dtype), char_part], dim=-1)  # (B, T, E + 2C)
        x = F.dropout(x, self.config.dropout, training=self.training)
        out = run_bidirectional(self.rnn, x, lengths)  # (B, T, 2H)
        return self.head(F.dropout(out, self.config.dropout, training=self.training))  # (B, T, K)

    def loss(self, batch: dict[str, torch.Tensor]) -> torch.Tensor:
        """Mean loss per token: the CRF's negative log-likelihood, or cross-entropy per token."""
        return self(batch, loss_over=batch["mask"].sum())

    @torch.no_grad()
    def decode(self, batch: dict[str, torch.Tensor]) -> tuple[list[list[int]], torch.Tensor]:
        """The best legal tag sequence of each sentence and its score (log-probabilities summed without a CRF)."""
        return self.paths_of(self.emissions(batch), batch["mask"])

    @torch.no_grad()
    def paths_of(self, emissions: torch.Tensor, mask: torch.Tensor) -> tuple[list[list[int]], torch.Tensor]:
        """``decode`` from emission scores already computed."""
        emissions = emissions.float()
        if self.crf is not None:
            return self.crf.decode(emissions, mask)
        p = self.penalties
        return viterbi(emissions.log_softmax(-1), mask, p.trans, p.start, p.end)


def check_tagging_fits(model_or_config, *, rows: int, longest: int, training: bool, batch_flag: str = "") -> None:
    """A batch of ``rows`` sentences of ``longest`` tokens fits beside the tagger (and its optimizer when training).

    ``model_or_config`` is a built tagger (eval and predict) or its config (training: checked before it is
    built, on the meta device).
    """
    from rnncli.core.memory import check_batch_fits, check_model_fits, floats_per_token, widest_flag

    config = getattr(model_or_config, "config", model_or_config)
    flag = widest_flag(embed=config.embed_size, hidden=config.hidden_size)
    if training:
        params = check_model_fits(lambda: TaggerModel(config, _no_penalties(config.num_tags)), flag=flag)
    else:
        params, flag = sum(p.numel() for p in model_or_config.parameters()), "the input"
    per_token = floats_per_token(
        embed=config.embed_size + 2 * config.char_hidden_size,
        hidden=config.hidden_size,
        layers=config.num_layers,
        directions=2,
        outputs=config.num_tags,
        training=training,
    )
    check_batch_fits(
        params,
        floats=rows * longest * per_token,
        flag=f"{flag}{batch_flag}",
        what=f"{'training on' if training else 'a batch of'} {rows:,} sentences of {longest:,} tokens",
        training=training,
        advice="use a smaller value" if training else "split the longest sentences",
    )


def _no_penalties(num_tags: int) -> Penalties:
    """Every transition allowed: the shape of a tagger's penalties, for counting its parameters."""
    ok = torch.ones(num_tags, dtype=torch.bool)
    return Penalties(torch.ones(num_tags, num_tags, dtype=torch.bool), ok, ok)
