"""The baselines a practitioner runs first: the majority class, and TF-IDF + logistic regression on words.

The bag of words is scikit-learn's default recipe (``TfidfVectorizer()`` then
``LogisticRegression()``: lowercased word unigrams of two or more letters,
smoothed idf, l2-normalised rows, L2 penalty with C = 1, fitted by L-BFGS),
written here with torch so that it needs no extra dependency. A second one
adds word bigrams, which see "not good" but not "good ..., but ... dull".
"""

from __future__ import annotations

import math
import re
from collections import Counter
from dataclasses import dataclass

import torch

WORD = re.compile(r"(?u)\b\w\w+\b")  # scikit-learn's token_pattern
MAX_FEATURES = 50_000
LBFGS_STEPS = 100


def words(text: str, ngrams: int) -> list[str]:
    tokens = WORD.findall(text.lower())
    grams = list(tokens)
    if ngrams >= 2:
        grams += [f"{a} {b}" for a, b in zip(tokens, tokens[1:], strict=False)]
    return grams


@dataclass
class BagOfWords:
    """A fitted TF-IDF + logistic-regression classifier."""

    ngrams: int
    vocabulary: dict[str, int]
    idf: torch.Tensor  # (V,)
    weight: torch.Tensor  # (C, V)
    bias: torch.Tensor  # (C,)
    multi_label: bool = False  # one-vs-rest: a sigmoid per label, labels at 0.5 and above predicted

    @property
    def name(self) -> str:
        return "tf-idf + logistic regression" + (" (words and bigrams)" if self.ngrams >= 2 else " (words)")

    def features(self, texts: list[str]) -> torch.Tensor:
        """Sparse l2-normalised TF-IDF rows (N, V)."""
        return tfidf(texts, self.vocabulary, self.idf, self.ngrams)

    def probabilities(self, texts: list[str]) -> torch.Tensor:
        logits = torch.sparse.mm(self.features(texts), self.weight.T) + self.bias
        return torch.sigmoid(logits) if self.multi_label else torch.softmax(logits, dim=-1)


def tfidf(texts: list[str], vocabulary: dict[str, int], idf: torch.Tensor, ngrams: int) -> torch.Tensor:
    rows, cols, values = [], [], []
    for r, text in enumerate(texts):
        counts = Counter(vocabulary[w] for w in words(text, ngrams) if w in vocabulary)
        if not counts:
            continue
        weights = {c: n * float(idf[c]) for c, n in counts.items()}
        norm = math.sqrt(sum(v * v for v in weights.values()))
        for c, v in weights.items():
            rows.append(r)
            cols.append(c)
            values.append(v / norm)
    index = torch.tensor([rows, cols], dtype=torch.long).reshape(2, -1)
    values_t = torch.tensor(values, dtype=torch.float32)
    shape = (len(texts), len(vocabulary))
    return torch.sparse_coo_tensor(index, values_t, shape, check_invariants=True)


def fit_bag_of_words(texts: list[str], targets: list, num_classes: int, *, ngrams: int = 1) -> BagOfWords:
    """Fit TF-IDF (smoothed idf) and an L2-penalised multinomial logistic regression (C = 1).

    Multi-hot ``targets`` fit one logistic regression per label (scikit-learn's one-vs-rest).
    """
    documents = Counter()
    for text in texts:
        documents.update(set(words(text, ngrams)))
    kept = [w for w, _ in documents.most_common(MAX_FEATURES)]
    vocabulary = {w: i for i, w in enumerate(sorted(kept))}
    n = len(texts)
    idf = torch.tensor([math.log((1 + n) / (1 + documents[w])) + 1 for w in sorted(kept)], dtype=torch.float32)
    multi = bool(targets) and isinstance(targets[0], list)
    model = BagOfWords(ngrams, vocabulary, idf, torch.zeros(num_classes, len(kept)), torch.zeros(num_classes), multi)
    x, y = model.features(texts), torch.tensor(targets, dtype=torch.float32 if multi else torch.long)
    _fit_logistic(model, x, y)
    return model


def _fit_logistic(model: BagOfWords, x: torch.Tensor, y: torch.Tensor) -> None:
    """Minimise sum of cross-entropies + 0.5 ||W||^2 (scikit-learn's objective with C = 1; the bias is free)."""
    weight = model.weight.clone().requires_grad_(True)
    bias = model.bias.clone().requires_grad_(True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=LBFGS_STEPS, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        logits = torch.sparse.mm(x, weight.T) + bias
        if model.multi_label:
            data_loss = torch.nn.functional.binary_cross_entropy_with_logits(logits, y, reduction="sum")
        else:
            data_loss = torch.nn.functional.cross_entropy(logits, y, reduction="sum")
        loss = data_loss + 0.5 * (weight * weight).sum()
        loss.backward()
        return loss

    optimizer.step(closure)
    model.weight, model.bias = weight.detach(), bias.detach()


def class_shares(targets: list, num_classes: int) -> torch.Tensor:
    """The majority baseline's probabilities: the training class frequencies (each label's share, multi-label)."""
    if targets and isinstance(targets[0], list):
        return torch.tensor(targets, dtype=torch.float32).mean(0)
    counts = torch.bincount(torch.tensor(targets, dtype=torch.long), minlength=num_classes).float()
    return counts / counts.sum()
