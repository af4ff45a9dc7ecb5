"""Evaluation of routing methods side by side (seed 000 §8)."""

from __future__ import annotations

from collections.abc import Sequence

from pathrl.paths import PathVocab, Triple


def triple_metrics(predicted: Sequence[Triple], labels: Sequence[Triple],
                   vocab: PathVocab) -> dict[str, float]:
    """Exact match, per-component accuracy, via accuracy on non-null labels, illegal rate.

    All values are fractions in [0, 1]; `via_accuracy_nonnull` is NaN-free (0 when no label
    has a non-null via) and `n_nonnull` says how many examples it covers."""
    n = len(labels)
    if n == 0:
        return {"n": 0, "exact_match": 0.0, "anchor_accuracy": 0.0, "target_accuracy": 0.0,
                "via_accuracy": 0.0, "via_accuracy_nonnull": 0.0, "n_nonnull": 0,
                "illegal_rate": 0.0, "via_null_rate_pred": 0.0}
    pairs = list(zip(predicted, labels, strict=True))
    nonnull = [(p, lab) for p, lab in pairs if lab[2]]
    return {
        "n": n,
        "exact_match": sum(p == lab for p, lab in pairs) / n,
        "anchor_accuracy": sum(p[0] == lab[0] for p, lab in pairs) / n,
        "target_accuracy": sum(p[1] == lab[1] for p, lab in pairs) / n,
        "via_accuracy": sum(tuple(p[2]) == tuple(lab[2]) for p, lab in pairs) / n,
        "via_accuracy_nonnull": (sum(tuple(p[2]) == tuple(lab[2]) for p, lab in nonnull)
                                 / len(nonnull)) if nonnull else 0.0,
        "n_nonnull": len(nonnull),
        "illegal_rate": sum(not vocab.is_legal(*p) for p in predicted) / n,
        "via_null_rate_pred": sum(not p[2] for p in predicted) / n,
    }
