"""Writing encoder outputs into the pseudo-word rows of a text encoder's input embeddings.

An :class:`InjectionPlan` says, for one call, which encoder vectors go into which batch rows;
``inject`` overwrites exactly the rows where the token ids are the pseudo-word ids and nothing
else, so a prompt's embedding differs from the plain prompt's only at ``*`` and ``@``.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch


@dataclass
class InjectionPlan:
    """Per-call conditioning.

    Attributes:
        texts: B prompt texts with the backbone's pseudo-word tokens in place.
        vectors: (B, 2, D) rows for (rhythm, genre), or None for text-only.
        negative: (B, 2, D) rows computed from the reversed motion for the guidance's negative
            branch, or None for the ordinary unconditional branch.
    """

    texts: list[str]
    vectors: torch.Tensor | None = None
    negative: torch.Tensor | None = None


def inject(embeds: torch.Tensor, input_ids: torch.Tensor, token_ids: tuple[int, int],
           vectors: torch.Tensor | None) -> torch.Tensor:
    """Overwrite pseudo-word rows.

    Args:
        embeds: (B, T, D) token embeddings; input_ids: (B, T); token_ids: (rhythm id, genre id);
        vectors: (B, 2, D) or None (returns ``embeds`` unchanged).
    Returns:
        (B, T, D) new tensor (gradients flow into ``vectors``).
    """
    if vectors is None:
        return embeds
    out = embeds
    for slot, token in enumerate(token_ids):
        where = (input_ids == token)[..., None]
        out = torch.where(where, vectors[:, slot, None, :].to(embeds.dtype), out)
    return out
