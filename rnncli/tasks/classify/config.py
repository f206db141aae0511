"""The classifier's shape as a dataclass (no torch here: options are checked before torch is imported)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass
from typing import Any

from rnncli.core.errors import UsageError
from rnncli.core.settings import (
    CELLS,
    MAX_LAYERS,
    MAX_VOCAB,
    MAX_WIDTH,
    check_choice,
    check_float,
    check_impl,
    check_int,
)

POOLS = ("last", "mean", "max", "attention")
MAX_CLASSES = 100_000


@dataclass
class ClassifierConfig:
    """The classifier's shape; ``vocab_size`` and ``num_classes`` come from the data."""

    cell: str = "lstm"
    impl: str = "fused"
    vocab_size: int = 0
    num_classes: int = 0
    embed_size: int = 64
    hidden_size: int = 128
    num_layers: int = 1
    dropout: float = 0.2
    bidirectional: bool = True
    pool: str = "max"
    multi_label: bool = False  # a sigmoid per label instead of a softmax over the classes

    def validate(self, *, where: str | None = None) -> None:
        label = (lambda name: f"--{name.replace('_', '-')}") if where is None else (lambda name: f"{where} {name}")
        check_choice(self.cell, CELLS, label("cell"))
        check_impl(self.cell, self.impl, label=label("impl"))
        check_int(self.vocab_size, 1, MAX_VOCAB, label("vocab_size"))
        check_int(self.num_classes, 2, MAX_CLASSES, label("num_classes"))
        check_int(self.embed_size, 1, MAX_WIDTH, label("embed_size"))
        check_int(self.hidden_size, 1, MAX_WIDTH, label("hidden_size"))
        check_int(self.num_layers, 1, MAX_LAYERS, label("num_layers"))
        check_float(self.dropout, 0.0, 1.0, label("dropout"), high_open=True)
        check_choice(self.pool, POOLS, label("pool"))
        for name in ("bidirectional", "multi_label"):
            if not isinstance(getattr(self, name), bool):
                raise UsageError(f"{label(name)} must be true or false")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1
