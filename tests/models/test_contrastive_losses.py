"""Hand-checked cases for `models.encoders.contrastive_losses`, one group of tests per loss."""

from __future__ import annotations

import math

import pytest
import torch
import torch.nn.functional as F

from models.encoders.contrastive_losses import (
    EncoderLossConfig,
    augmentation_invariance_loss,
    coarse_groups,
    content_consistency_loss,
    encoder_losses,
    hierarchical_info_nce,
    orthogonality_loss,
    part_info_nce,
    style_prototypes,
    supervised_info_nce,
)
from models.encoders.encoder import EncoderOutput


def unit(*rows: list[float]) -> torch.Tensor:
    return F.normalize(torch.tensor(rows, dtype=torch.float32), dim=-1)


def clustered(labels: list[int], dim: int = 8, noise: float = 0.05, seed: int = 0):
    """Unit embeddings near one random direction per label."""
    generator = torch.Generator().manual_seed(seed)
    centres = F.normalize(torch.randn(max(labels) + 1, dim, generator=generator), dim=-1)
    points = centres[torch.tensor(labels)] + noise * torch.randn(
        len(labels), dim, generator=generator
    )
    return F.normalize(points, dim=-1)


# --- supervised_info_nce ---------------------------------------------------------------------


def test_supcon_matches_a_three_sample_example_by_hand() -> None:
    # z0 = (1, 0), z1 = (cos 60, sin 60), z2 = (0, 1); labels 0, 0, 1; t = 0.5.
    # Anchor 0: positive z1 (sim 0.5), others {z1: 0.5, z2: 0}.
    # Anchor 1: positive z0 (sim 0.5), others {z0: 0.5, z2: sin 60}.
    # Anchor 2 has no positive and is skipped.
    z = unit([1.0, 0.0], [0.5, math.sqrt(3) / 2], [0.0, 1.0])
    t = 0.5
    loss_0 = -math.log(math.exp(0.5 / t) / (math.exp(0.5 / t) + math.exp(0.0 / t)))
    loss_1 = -math.log(math.exp(0.5 / t) / (math.exp(0.5 / t) + math.exp(math.sqrt(3) / 2 / t)))
    expected = (loss_0 + loss_1) / 2
    assert float(supervised_info_nce(z, torch.tensor([0, 0, 1]), t)) == pytest.approx(expected)


def test_supcon_with_identical_embeddings_of_one_label_is_log_two() -> None:
    # three copies: each anchor has 2 positives, each with probability 1/2
    z = unit([1.0, 0.0], [1.0, 0.0], [1.0, 0.0])
    assert float(supervised_info_nce(z, torch.tensor([4, 4, 4]), 0.1)) == pytest.approx(math.log(2))


def test_supcon_perfect_separation_beats_shuffled_labels() -> None:
    labels = [0, 0, 0, 1, 1, 1, 2, 2, 2, 3, 3, 3]
    z = clustered(labels)
    true_loss = supervised_info_nce(z, torch.tensor(labels), 0.1)
    shuffled = torch.tensor(labels)[torch.randperm(12, generator=torch.Generator().manual_seed(0))]
    assert not torch.equal(shuffled, torch.tensor(labels))
    assert true_loss < 0.5 * supervised_info_nce(z, shuffled, 0.1)


def test_supcon_without_positives_is_zero_with_a_graph() -> None:
    z = unit([1.0, 0.0], [0.0, 1.0], [1.0, 1.0]).requires_grad_()
    loss = supervised_info_nce(z, torch.tensor([0, 1, 2]), 0.1)
    assert loss.item() == 0.0
    loss.backward()
    assert torch.equal(z.grad, torch.zeros_like(z))
    single = supervised_info_nce(z[:1], torch.tensor([0]), 0.1)
    assert single.item() == 0.0


def test_supcon_ignores_anchors_without_positives_but_keeps_them_as_negatives() -> None:
    z = unit([1.0, 0.0], [0.8, 0.6], [0.6, 0.8])
    with_lone = supervised_info_nce(z, torch.tensor([0, 0, 1]), 0.1)
    without = supervised_info_nce(z[:2], torch.tensor([0, 0]), 0.1)
    assert float(without) == pytest.approx(0.0, abs=1e-6)  # only positives left: log 1
    assert with_lone > without


def test_supcon_computes_in_float32_under_autocast() -> None:
    z = clustered([0, 0, 1, 1]).bfloat16()
    with torch.autocast("cpu", dtype=torch.bfloat16):
        loss = supervised_info_nce(z, torch.tensor([0, 0, 1, 1]), 0.1)
    assert loss.dtype == torch.float32


# --- part_info_nce ---------------------------------------------------------------------------


def test_part_loss_is_the_mean_of_per_part_supcon() -> None:
    labels = torch.tensor([0, 0, 1, 1, 2])
    parts = torch.stack([clustered(labels.tolist(), seed=s, noise=0.5) for s in range(5)], dim=1)
    per_part = [supervised_info_nce(parts[:, p], labels, 0.2) for p in range(5)]
    expected = torch.stack(per_part).mean()
    torch.testing.assert_close(part_info_nce(parts, labels, 0.2), expected)
    uniform = torch.full((5, 5), 0.2)
    torch.testing.assert_close(part_info_nce(parts, labels, 0.2, uniform), expected)
    only_third = torch.tensor([0.0, 0.0, 1.0, 0.0, 0.0])
    torch.testing.assert_close(part_info_nce(parts, labels, 0.2, only_third), per_part[2])


def test_part_loss_does_not_train_the_part_weights() -> None:
    labels = torch.tensor([0, 0, 1, 1])
    parts = torch.stack([clustered(labels.tolist(), seed=s) for s in range(5)], dim=1)
    weights = torch.softmax(torch.randn(4, 5), dim=-1).requires_grad_()
    part_info_nce(parts.requires_grad_(), labels, 0.1, weights).backward()
    assert weights.grad is None


# --- style_prototypes and coarse_groups ------------------------------------------------------


def test_style_prototypes_average_normalised_embeddings_and_zero_missing_styles() -> None:
    embeddings = torch.tensor([[2.0, 0.0], [0.0, 3.0], [0.0, 1.0], [5.0, 5.0]])
    labels = torch.tensor([0, 0, 2, -1])
    prototypes = style_prototypes(embeddings, labels, num_styles=4)
    expected = torch.tensor([[0.5, 0.5], [0.0, 0.0], [0.0, 1.0], [0.0, 0.0]])
    torch.testing.assert_close(prototypes, expected)


def test_kmeans_recovers_two_obvious_groups_deterministically() -> None:
    generator = torch.Generator().manual_seed(0)
    east, north = torch.tensor([1.0, 0.0, 0.0]), torch.tensor([0.0, 1.0, 0.0])
    prototypes = torch.stack([east, north, east, north, east, north])
    prototypes = prototypes + 0.05 * torch.randn(6, 3, generator=generator)
    groups = coarse_groups(prototypes, num_groups=2, iterations=20, seed=0)
    assert groups.tolist() == [0, 1, 0, 1, 0, 1]  # renumbered: style 0's group is 0
    assert groups.dtype == torch.long
    for seed in range(5):
        assert torch.equal(coarse_groups(prototypes, 2, 20, seed), groups)


def test_kmeans_refuses_more_groups_than_prototypes() -> None:
    with pytest.raises(ValueError, match="num_groups"):
        coarse_groups(torch.eye(3), num_groups=4)


# --- hierarchical_info_nce -------------------------------------------------------------------


def test_hierarchical_reduces_to_fine_supcon_without_the_coarse_term() -> None:
    fine = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    z = clustered(fine.tolist(), noise=0.4)
    coarse_of_fine = torch.tensor([0, 0, 1, 1])
    fine_only = supervised_info_nce(z, fine, 0.1)
    torch.testing.assert_close(
        hierarchical_info_nce(z, fine, coarse_of_fine, 0.3, 0.1, 0.0), fine_only
    )
    coarse = supervised_info_nce(z, coarse_of_fine[fine], 0.3)
    torch.testing.assert_close(
        hierarchical_info_nce(z, fine, coarse_of_fine, 0.3, 0.1, 0.5), 0.5 * coarse + fine_only
    )


# --- orthogonality_loss ----------------------------------------------------------------------


def test_orthogonality_is_zero_for_decorrelated_and_positive_for_correlated_vectors() -> None:
    # Columns of a 4x4 Hadamard matrix: centred and mutually orthogonal over the batch.
    hadamard = torch.tensor(
        [
            [1.0, 1.0, 1.0, 1.0],
            [1.0, -1.0, 1.0, -1.0],
            [1.0, 1.0, -1.0, -1.0],
            [1.0, -1.0, -1.0, 1.0],
        ]
    )
    z_content, z_style = hadamard[:, 1:2] * 3.0 + 1.0, hadamard[:, 2:4] * 0.5
    assert float(orthogonality_loss(z_content, z_style)) == pytest.approx(0.0, abs=1e-10)
    generator = torch.Generator().manual_seed(0)
    z_content = torch.randn(32, 6, generator=generator)
    z_style = z_content @ torch.randn(6, 4, generator=generator)  # a linear function of content
    assert float(orthogonality_loss(z_content, z_style)) > 0.05
    # one dimension each, identical up to scale and shift: correlation 1, loss ~1
    x = torch.randn(32, 1, generator=generator)
    assert float(orthogonality_loss(x, 2.0 * x + 3.0)) == pytest.approx(1.0, abs=1e-3)


def test_orthogonality_backward_and_tiny_batches() -> None:
    z_content = torch.randn(8, 3, requires_grad=True)
    orthogonality_loss(z_content, torch.randn(8, 2)).backward()
    assert torch.isfinite(z_content.grad).all()
    assert float(orthogonality_loss(torch.randn(1, 3), torch.randn(1, 2))) == 0.0


# --- content_consistency_loss and augmentation_invariance_loss --------------------------------


def test_content_loss_ignores_unknown_labels() -> None:
    labels = torch.tensor([0, 0, -1, -1, 1, 1])
    z = clustered([0, 0, 2, 3, 1, 1], noise=0.3) * 4.0  # not unit: the loss normalises
    known = labels >= 0
    expected = supervised_info_nce(F.normalize(z[known], dim=-1), labels[known], 0.1)
    torch.testing.assert_close(content_consistency_loss(z, labels, 0.1), expected)
    moved = z.clone()
    moved[~known] = torch.randn(2, 8)
    torch.testing.assert_close(content_consistency_loss(moved, labels, 0.1), expected)
    nothing_known = content_consistency_loss(z.requires_grad_(), torch.full((6,), -1), 0.1)
    assert nothing_known.item() == 0.0
    nothing_known.backward()


def test_augmentation_invariance_is_nt_xent() -> None:
    generator = torch.Generator().manual_seed(0)
    z_a, z_b = torch.randn(5, 4, generator=generator), torch.randn(5, 4, generator=generator)
    # SimCLR written out: 2B x 2B logits, self excluded, target = the other view
    z = F.normalize(torch.cat([z_a, z_b]), dim=-1)
    logits = (z @ z.T / 0.2).fill_diagonal_(float("-inf"))
    targets = torch.cat([torch.arange(5, 10), torch.arange(0, 5)])
    expected = F.cross_entropy(logits, targets)
    torch.testing.assert_close(augmentation_invariance_loss(z_a, z_b, 0.2), expected)
    aligned = augmentation_invariance_loss(z_a, z_a + 0.01 * z_b, 0.2)
    assert aligned < augmentation_invariance_loss(z_a, z_b, 0.2)


# --- encoder_losses --------------------------------------------------------------------------


def fake_output(B: int = 8, seed: int = 0) -> EncoderOutput:
    generator = torch.Generator().manual_seed(seed)

    def randn(*shape: int) -> torch.Tensor:
        return torch.randn(*shape, generator=generator).requires_grad_()

    return EncoderOutput(
        z_content_seq=randn(B, 4, 6),
        z_content=randn(B, 6),
        z_style=F.normalize(randn(B, 5), dim=-1),
        part_weights=torch.softmax(randn(B, 5), dim=-1),
        z_style_parts=F.normalize(randn(B, 5, 5), dim=-1),
    )


STYLE = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
CONTENT = torch.tensor([0, 1, 0, 1, -1, -1, 0, 1])


def test_encoder_losses_total_is_the_weighted_sum_of_the_enabled_terms() -> None:
    config = EncoderLossConfig(part_nce_weight=0.25, orthogonality_weight=2.0)
    losses = encoder_losses(fake_output(), STYLE, CONTENT, None, config)
    assert set(losses) == {"style_nce", "part_nce", "orthogonality", "content", "total"}
    expected = (
        losses["style_nce"] + 0.25 * losses["part_nce"] + 2.0 * losses["orthogonality"]
    ) + losses["content"]
    torch.testing.assert_close(losses["total"], expected)
    losses["total"].backward()


def test_each_switch_removes_its_term() -> None:
    config = EncoderLossConfig(
        style_nce_enabled=False,
        part_nce_enabled=False,
        orthogonality_enabled=False,
        content_enabled=True,
    )
    losses = encoder_losses(fake_output(), STYLE, CONTENT, None, config)
    assert set(losses) == {"content", "total"}
    torch.testing.assert_close(losses["total"], losses["content"])


def test_hierarchical_replaces_style_nce_and_needs_coarse_groups() -> None:
    with pytest.raises(ValueError, match="style_nce"):
        EncoderLossConfig(hierarchical_enabled=True)
    config = EncoderLossConfig(style_nce_enabled=False, hierarchical_enabled=True)
    with pytest.raises(ValueError, match="coarse_of_fine"):
        encoder_losses(fake_output(), STYLE, CONTENT, None, config)
    losses = encoder_losses(fake_output(), STYLE, CONTENT, torch.tensor([0, 0, 1, 1]), config)
    assert "hierarchical" in losses and "style_nce" not in losses


def test_content_falls_back_to_two_views_without_content_labels() -> None:
    output, augmented = fake_output(seed=0), fake_output(seed=1)
    unknown = torch.full((8,), -1)
    config = EncoderLossConfig()
    losses = encoder_losses(output, STYLE, unknown, None, config, augmented=augmented)
    expected = augmentation_invariance_loss(output.z_content, augmented.z_content, 0.1)
    torch.testing.assert_close(losses["content"], expected)
    no_view = encoder_losses(output, STYLE, unknown, None, config)
    assert no_view["content"].item() == 0.0
