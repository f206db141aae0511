"""Options that several commands share, defined once as ``Annotated`` aliases."""

from __future__ import annotations

from typing import Annotated

import typer

Quiet = Annotated[bool, typer.Option("--quiet", "-q", help="No progress or messages on stderr.")]
Unknown = Annotated[str | None, typer.Option(help="Text outside the vocabulary: error (name it), skip (drop it) or unk (the unknown token).  [default: unk for a word model, else error]")]
ImplOverride = Annotated[str | None, typer.Option(
    "--impl", help="Run on fused or reference cells instead of what the checkpoint records.")]


def with_default(text: str, name: str) -> str:
    """Help text that shows the default from the settings dataclasses, the one place defaults live."""
    from rnncli.core.settings import ModelConfig, TrainConfig
    from rnncli.tasks.language_model.config import TextConfig

    for section in (TextConfig, ModelConfig, TrainConfig):
        default = section.__dataclass_fields__[name].default if name in section.__dataclass_fields__ else None
        if default is not None:
            return f"{text} [default: {default}]"
    return text
