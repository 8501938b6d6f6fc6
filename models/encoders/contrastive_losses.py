"""Contrastive and disentanglement losses of the motion encoders, each a small pure function.

Owns the training objectives of `models.encoders.encoder.MotionEncoder`: supervised contrastive
style losses (global, per body part, coarse-to-fine over k-means style groups), the content
objectives (same content across styles, or two augmented views) and the content/style decorrelation.
Every loss computes in float32 whatever the autocast dtype, and returns a zero that still has a
graph when a batch gives it nothing to compare, so a training step never sees NaN. `encoder_losses`
combines them under `EncoderLossConfig`, one weight and one on/off switch per loss. The shape of
this module follows open_clip's loss.py: plain functions, tested one by one.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from models.encoders.encoder import EncoderOutput


def _zero_with_grad(*tensors: Tensor) -> Tensor:
    """A float32 scalar 0 connected to the inputs, so `backward()` works on an empty loss."""
    total = tensors[0].float().sum() * 0.0
    for tensor in tensors[1:]:
        total = total + tensor.float().sum() * 0.0
    return total


def _autocast_off(tensor: Tensor) -> torch.autocast:
    """Disables autocast on the tensor's device: under CUDA mixed precision a matmul would
    otherwise run in fp16 even on float32 inputs."""
    return torch.autocast(device_type=tensor.device.type, enabled=False)


def _supcon_per_anchor(
    embeddings: Tensor, labels: Tensor, temperature: float
) -> tuple[Tensor, Tensor]:
    """Per-anchor SupCon loss `(..., B)` of `embeddings (..., B, D)` and a mask `(B,)` of the
    anchors that have at least one positive (same label, not itself)."""
    B = embeddings.shape[-2]
    z = embeddings.float()
    self_mask = torch.eye(B, dtype=torch.bool, device=z.device)  # (B, B)
    with _autocast_off(z):  # fp16 logits / t and log-softmax lose the small differences
        similarity = z @ z.transpose(-1, -2)  # (..., B, B)
    logits = (similarity / temperature).masked_fill(self_mask, float("-inf"))
    log_prob = logits - torch.logsumexp(logits, dim=-1, keepdim=True)  # (..., B, B)
    positive = (labels[:, None] == labels[None, :]) & ~self_mask  # (B, B)
    num_positive = positive.sum(dim=-1)  # (B,)
    mean_log_prob = log_prob.masked_fill(~positive, 0.0).sum(-1) / num_positive.clamp(min=1)
    return -mean_log_prob, num_positive > 0


def supervised_info_nce(embeddings: Tensor, labels: Tensor, temperature: float = 0.1) -> Tensor:
    """Supervised contrastive loss (SupCon "L_out", Khosla et al. 2020).

    For unit-length embeddings z_i with labels y_i, positives P(i) = {p != i : y_p = y_i}:

        L = mean_{i : |P(i)| > 0}  -1/|P(i)| sum_{p in P(i)} log( exp(z_i.z_p / t)
                                                                 / sum_{a != i} exp(z_i.z_a / t) )

    Anchors without positives are skipped (they still serve as negatives); a batch with no
    positive pair gives 0 with a graph. `embeddings (B, D)` must already be normalised.
    """
    if embeddings.shape[0] < 2:
        return _zero_with_grad(embeddings)
    per_anchor, has_positive = _supcon_per_anchor(embeddings, labels, temperature)  # (B,), (B,)
    # masked mean instead of indexing: no host sync, and exactly 0 when nothing has a positive
    return (per_anchor * has_positive).sum() / has_positive.sum().clamp(min=1)


def part_info_nce(
    part_embeddings: Tensor,
    labels: Tensor,
    temperature: float = 0.1,
    part_weights: Tensor | None = None,
) -> Tensor:
    """Multi-granularity style loss: SupCon computed per body part, averaged over parts.

    `part_embeddings (B, P, D)` unit length. With `part_weights` `(P,)` or `(B, P)` the average
    is weighted per (anchor, part): L = sum w_ip l_ip / sum w_ip over anchors with positives.
    The weights are detached: the encoder's part weighting learns from the global style loss,
    it must not lower this loss by moving weight onto the easy parts.
    """
    B, P, _ = part_embeddings.shape
    if B < 2:
        return _zero_with_grad(part_embeddings)
    per_part = part_embeddings.transpose(0, 1)  # (P, B, D)
    per_anchor, has_positive = _supcon_per_anchor(per_part, labels, temperature)  # (P, B), (B,)
    if part_weights is None:
        weights = torch.ones(B, P, device=per_anchor.device)
    else:
        weights = part_weights.detach().float().expand(B, P)  # (B, P)
    weights = weights.transpose(0, 1) * has_positive  # (P, B)
    return (weights * per_anchor).sum() / weights.sum().clamp(min=1e-12)  # 0 if no positives


def style_prototypes(embeddings: Tensor, labels: Tensor, num_styles: int) -> Tensor:
    """Mean of the normalised embeddings of each style `(S, D)`; a style with no sample (or a
    label < 0) contributes nothing and its row is all zeros."""
    z = F.normalize(embeddings.float(), dim=-1)  # (B, D)
    known = (labels >= 0) & (labels < num_styles)
    sums = z.new_zeros(num_styles, z.shape[1]).index_add(0, labels[known], z[known])  # (S, D)
    counts = torch.bincount(labels[known], minlength=num_styles).clamp(min=1)  # (S,)
    return sums / counts[:, None].to(sums.dtype)


def _farthest_first_centres(x: Tensor, num_groups: int, generator: torch.Generator) -> Tensor:
    """k-means++ style seeding on the unit sphere: sample far points with a seeded generator."""
    first = int(torch.randint(x.shape[0], (1,), generator=generator))
    centres = [x[first]]
    for _ in range(1, num_groups):
        similarity = (x @ torch.stack(centres).T).max(dim=1).values  # (S,)
        distance = (1.0 - similarity).clamp(min=0.0) + 1e-12
        centres.append(x[int(torch.multinomial(distance, 1, generator=generator))])
    return torch.stack(centres)  # (K, D)


@torch.no_grad()
def coarse_groups(
    prototypes: Tensor, num_groups: int, iterations: int = 50, seed: int = 0
) -> Tensor:
    """Spherical (cosine) k-means of style prototypes `(S, D)` into `num_groups` coarse groups.

    Deterministic for a seed (seeded CPU generator, fixed iteration order); group ids are
    renumbered by first appearance, so style 0 is always in group 0. An empty group is re-seeded
    with the prototype farthest from its centre. Returns `(S,)` long on the prototypes' device.
    """
    S = prototypes.shape[0]
    if not 1 <= num_groups <= S:
        raise ValueError(f"num_groups must be in [1, {S}] for {S} prototypes, got {num_groups}")
    x = F.normalize(prototypes.detach().float().cpu(), dim=-1)  # (S, D)
    centres = _farthest_first_centres(x, num_groups, torch.Generator().manual_seed(seed))
    assignment = torch.full((S,), -1, dtype=torch.long)
    for _ in range(iterations):
        similarity = x @ centres.T  # (S, K)
        new_assignment = similarity.argmax(dim=1)
        if torch.equal(new_assignment, assignment):
            break
        assignment = new_assignment
        centres = F.normalize(torch.zeros_like(centres).index_add(0, assignment, x), dim=-1)
        own = similarity.gather(1, assignment[:, None]).squeeze(1)  # (S,)
        for empty in torch.nonzero(torch.bincount(assignment, minlength=num_groups) == 0):
            farthest = own.argmin()
            centres[empty] = x[farthest]
            own[farthest] = float("inf")
    order = {group: rank for rank, group in enumerate(dict.fromkeys(assignment.tolist()))}
    return torch.tensor([order[group] for group in assignment.tolist()], device=prototypes.device)


def hierarchical_info_nce(
    embeddings: Tensor,
    fine_labels: Tensor,
    coarse_of_fine: Tensor,
    temperature_coarse: float = 0.2,
    temperature_fine: float = 0.1,
    coarse_weight: float = 0.5,
) -> Tensor:
    """Coarse-to-fine style loss: L = coarse_weight * SupCon(z, g(y), t_c) + SupCon(z, y, t_f),

    where g = `coarse_of_fine (S,)` maps each fine style to its coarse group (from
    `coarse_groups`). Styles of one group pull together loosely (higher t_c) and the fine term
    still separates them. With coarse_weight = 0 this is exactly the fine SupCon.
    """
    fine = supervised_info_nce(embeddings, fine_labels, temperature_fine)
    if coarse_weight == 0.0:
        return fine
    coarse_labels = coarse_of_fine.to(fine_labels.device)[fine_labels]  # (B,)
    coarse = supervised_info_nce(embeddings, coarse_labels, temperature_coarse)
    return coarse_weight * coarse + fine


def orthogonality_loss(z_content: Tensor, z_style: Tensor, eps: float = 1e-5) -> Tensor:
    """Decorrelation of content and style: ||C||_F^2 / (Dc * Ds), with C = c^T s / B the
    cross-correlation of the batch-standardised `z_content (B, Dc)` and `z_style (B, Ds)`.

    0 when every content dimension is uncorrelated with every style dimension over the batch;
    1 when each pair is perfectly (anti-)correlated. Needs B >= 2 (else 0 with a graph).
    """
    B, Dc = z_content.shape
    Ds = z_style.shape[1]
    if B < 2:
        return _zero_with_grad(z_content, z_style)

    def standardise(z: Tensor) -> Tensor:
        z = z.float()
        return (z - z.mean(dim=0)) / (z.std(dim=0, unbiased=False) + eps)

    with _autocast_off(z_content):
        correlation = standardise(z_content).T @ standardise(z_style) / B  # (Dc, Ds)
    return correlation.pow(2).sum() / (Dc * Ds)


def content_consistency_loss(
    z_content: Tensor, content_labels: Tensor, temperature: float = 0.1
) -> Tensor:
    """SupCon on normalised `z_content (B, Dc)` over the samples with a content label >= 0:
    the same content performed in different styles must map together. Samples labelled -1
    (unknown) are dropped entirely, as anchors and as negatives (they may be false negatives)."""
    known = content_labels >= 0  # (B,)
    if int(known.sum()) < 2:
        return _zero_with_grad(z_content)
    z = F.normalize(z_content[known].float(), dim=-1)
    return supervised_info_nce(z, content_labels[known], temperature)


def augmentation_invariance_loss(z_a: Tensor, z_b: Tensor, temperature: float = 0.1) -> Tensor:
    """NT-Xent (SimCLR, Chen et al. 2020) between two views `(B, D)` of the same windows: each of
    the 2B embeddings has its other view as the only positive. Equal to SupCon with labels
    (0..B-1, 0..B-1), which is how it is computed. Inputs are normalised here."""
    B = z_a.shape[0]
    z = F.normalize(torch.cat([z_a, z_b]).float(), dim=-1)  # (2B, D)
    labels = torch.arange(B, device=z.device).repeat(2)  # (2B,)
    return supervised_info_nce(z, labels, temperature)


@dataclass(frozen=True)
class EncoderLossConfig:
    """Weights, switches and temperatures of `encoder_losses` (one flag per ablation).

    `hierarchical` already holds the fine style SupCon, so it replaces `style_nce` rather than
    adding to it; enabling both is refused.
    """

    style_nce_enabled: bool = True
    style_nce_weight: float = 1.0
    part_nce_enabled: bool = True
    part_nce_weight: float = 0.5
    hierarchical_enabled: bool = False
    hierarchical_weight: float = 1.0
    orthogonality_enabled: bool = True
    orthogonality_weight: float = 0.1
    content_enabled: bool = True
    content_weight: float = 1.0
    temperature_style: float = 0.1
    temperature_part: float = 0.1
    temperature_coarse: float = 0.2
    temperature_content: float = 0.1
    coarse_weight: float = 0.5
    weight_parts_by_attention: bool = False  # part_nce weighted by the encoder's part_weights

    def __post_init__(self) -> None:
        if self.style_nce_enabled and self.hierarchical_enabled:
            raise ValueError(
                "hierarchical already contains the fine style SupCon: disable style_nce"
            )


def _content_term(
    output: EncoderOutput,
    content: Tensor,
    augmented: EncoderOutput | None,
    config: EncoderLossConfig,
) -> Tensor:
    if bool((content >= 0).any()) or augmented is None:
        return content_consistency_loss(output.z_content, content, config.temperature_content)
    return augmentation_invariance_loss(
        output.z_content, augmented.z_content, config.temperature_content
    )


def _hierarchical_term(
    output: EncoderOutput,
    style: Tensor,
    coarse_of_fine: Tensor | None,
    config: EncoderLossConfig,
) -> Tensor:
    if coarse_of_fine is None:
        raise ValueError("hierarchical_enabled needs coarse_of_fine (see coarse_groups)")
    return hierarchical_info_nce(
        output.z_style,
        style,
        coarse_of_fine,
        temperature_coarse=config.temperature_coarse,
        temperature_fine=config.temperature_style,
        coarse_weight=config.coarse_weight,
    )


def encoder_losses(
    output: EncoderOutput,
    batch_style: Tensor,
    batch_content: Tensor,
    coarse_of_fine: Tensor | None,
    config: EncoderLossConfig,
    augmented: EncoderOutput | None = None,
) -> dict[str, Tensor]:
    """Each enabled loss (unweighted, for logging) and "total" = sum of weight * loss.

    `batch_style (B,)` style ids, `batch_content (B,)` content ids with -1 = unknown.
    `coarse_of_fine (S,)` is required when `hierarchical_enabled`. The content term is
    `content_consistency_loss` when the batch has any content label, else, given the
    `augmented` view of the same windows, `augmentation_invariance_loss` (the fallback).
    """
    c = config
    terms: dict[str, tuple[Tensor, float]] = {}
    if c.style_nce_enabled:
        loss = supervised_info_nce(output.z_style, batch_style, c.temperature_style)
        terms["style_nce"] = (loss, c.style_nce_weight)
    if c.part_nce_enabled:
        weights = output.part_weights if c.weight_parts_by_attention else None
        loss = part_info_nce(output.z_style_parts, batch_style, c.temperature_part, weights)
        terms["part_nce"] = (loss, c.part_nce_weight)
    if c.hierarchical_enabled:
        loss = _hierarchical_term(output, batch_style, coarse_of_fine, c)
        terms["hierarchical"] = (loss, c.hierarchical_weight)
    if c.orthogonality_enabled:
        loss = orthogonality_loss(output.z_content, output.z_style)
        terms["orthogonality"] = (loss, c.orthogonality_weight)
    if c.content_enabled:
        terms["content"] = (_content_term(output, batch_content, augmented, c), c.content_weight)
    losses = {name: loss for name, (loss, _) in terms.items()}
    total = sum((weight * loss for loss, weight in terms.values()), _zero_with_grad(output.z_style))
    losses["total"] = total
    return losses
