"""``rnn inspect RUN --attention TEXT``: where the decoder looked while translating one sentence, as data.

The sentence is translated greedily, alone (so it has no padding), and each
output token's attention weights over the source tokens are kept: one row per
output token, one column per source token, each row summing to 1.
"""

from __future__ import annotations

from typing import Any

from rnncli.core.errors import UsageError
from rnncli.tasks.requests import Summary


def attention_summary(path: str, options: dict[str, Any]) -> Summary:
    """The translation of ``options['attention']`` and its attention matrix (output tokens x source tokens)."""
    from rnncli.tasks.translate.translator import Decoding, decode_batch, load_translator

    text = options["attention"]
    loaded = load_translator(path)
    if loaded.config.attention == "none":
        raise UsageError(f"{loaded.path}: this translator has no attention (trained with --attention none)")
    ids = loaded.encode(text, where="--attention")
    if not ids:
        raise UsageError("--attention: give a sentence to translate (the text is empty)")
    device = next(loaded.model.parameters()).device
    hyp = decode_batch(loaded, [ids], Decoding(), device, keep_attention=True)[0][0]
    source_tokens = [loaded.tokenizer.decode([i]) for i in ids]
    output_tokens = [loaded.decode([i]) for i in hyp.tokens]
    weights = [[round(w, 4) for w in row] for row in hyp.attention]
    focus = [max(range(len(row)), key=row.__getitem__) for row in hyp.attention]
    return Summary(
        {
            "kind": "attention",
            "path": str(loaded.path),
            "source": text,
            "translation": loaded.decode(hyp.tokens),
            "attention_type": loaded.config.attention,
            "source_tokens": source_tokens,
            "output_tokens": output_tokens,
            "weights": weights,  # one row per output token, one column per source token
            "attends_to": [
                {"output": out, "source": source_tokens[j], "position": j, "weight": weights[k][j]}
                for k, (out, j) in enumerate(zip(output_tokens, focus, strict=True))
            ],
        }
    )
