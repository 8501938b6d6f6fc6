"""Tiny-model tests of the motion encoder: shapes, gradients, determinism, checkpoints, learning."""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path

import numpy as np
import pytest
import torch

from models.encoders.contrastive_losses import (
    EncoderLossConfig,
    encoder_losses,
    supervised_info_nce,
)
from models.encoders.encoder import (
    CHECKPOINT_FORMAT_VERSION,
    NUM_PARTS,
    NUM_TOKENS,
    TOKEN_NAMES,
    CheckpointError,
    EncoderConfig,
    EncoderOutput,
    MotionEncoder,
    load_encoder,
    save_checkpoint,
)
from storage.skeleton import BODY_PART_NAMES

TOKEN_SIZES = (5, 3, 3, 4, 4, 2)
F_MAX = max(TOKEN_SIZES)
DESCRIPTOR_SIZE = 3


def tiny_config(**overrides: object) -> EncoderConfig:
    values = dict(
        token_sizes=TOKEN_SIZES,
        descriptor_size=DESCRIPTOR_SIZE,
        d_model=16,
        num_layers=2,
        num_heads=2,
        dropout=0.0,
        content_dim=8,
        style_dim=8,
        content_stride=4,
        max_frames=32,
    )
    return EncoderConfig(**(values | overrides))


def make_batch(B: int = 4, W: int = 16, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor]:
    """Random tokens `(B, W, 6, F_max)`, zero beyond each true width, and descriptors."""
    generator = torch.Generator().manual_seed(seed)
    tokens = torch.randn(B, W, NUM_TOKENS, F_MAX, generator=generator)
    for index, size in enumerate(TOKEN_SIZES):
        tokens[:, :, index, size:] = 0.0
    return tokens, torch.randn(B, NUM_PARTS, DESCRIPTOR_SIZE, generator=generator)


def output_tensors(output: EncoderOutput) -> list[torch.Tensor]:
    return [getattr(output, field.name) for field in dataclasses.fields(output)]


def tiny_model(seed: int = 0, **overrides: object) -> MotionEncoder:
    torch.manual_seed(seed)
    return MotionEncoder(tiny_config(**overrides))


def test_token_order_is_the_skeleton_parts_then_root() -> None:
    assert len(TOKEN_NAMES) == NUM_TOKENS
    assert TOKEN_NAMES[:NUM_PARTS] == BODY_PART_NAMES
    assert TOKEN_NAMES[-1] == "root"


@pytest.mark.parametrize("W", [16, 17, 4])
def test_output_shapes(W: int) -> None:
    # W = 17 is not a multiple of content_stride = 4: z_content_seq has W // 4 = 4 steps
    # (the trailing frame is left out of the sequence), z_content averages all 17 frames.
    output = tiny_model().eval()(*make_batch(B=4, W=W))
    assert output.z_content_seq.shape == (4, W // 4, 8)
    assert output.z_content.shape == (4, 8)
    assert output.z_style.shape == (4, 8)
    assert output.part_weights.shape == (4, 5)
    assert output.z_style_parts.shape == (4, 5, 8)
    unit = output.z_content_normalised.norm(dim=-1)
    torch.testing.assert_close(unit, torch.ones(4))


def test_pooled_content_is_the_mean_of_the_sequence_when_stride_divides_the_window() -> None:
    output = tiny_model().eval()(*make_batch(W=16))
    torch.testing.assert_close(output.z_content, output.z_content_seq.mean(dim=1))


@pytest.mark.parametrize("W", [3, 33])
def test_window_outside_stride_and_position_table_is_refused(W: int) -> None:
    with pytest.raises(ValueError, match=f"{W} frames"):
        tiny_model()(*make_batch(W=W))


def test_style_vectors_are_unit_length_and_part_weights_a_softmax_over_five_parts() -> None:
    output = tiny_model().eval()(*make_batch(B=6))
    torch.testing.assert_close(output.z_style.norm(dim=-1), torch.ones(6))
    torch.testing.assert_close(output.z_style_parts.norm(dim=-1), torch.ones(6, 5))
    assert (output.part_weights > 0).all()
    torch.testing.assert_close(output.part_weights.sum(dim=-1), torch.ones(6))
    # input-dependent: different windows get different weightings
    assert output.part_weights.std(dim=0).max() > 0


def test_padding_beyond_true_widths_is_ignored() -> None:
    model = tiny_model().eval()
    tokens, descriptors = make_batch()
    noisy = tokens.clone()
    for index, size in enumerate(TOKEN_SIZES):
        noisy[:, :, index, size:] = 123.0
    torch.testing.assert_close(
        model(noisy, descriptors).z_style, model(tokens, descriptors).z_style
    )


def test_bad_inputs_are_refused_with_their_names() -> None:
    model = tiny_model()
    tokens, descriptors = make_batch()
    with pytest.raises(ValueError, match="descriptors"):
        model(tokens, descriptors[:, :4])
    with pytest.raises(ValueError, match="tokens"):
        model(tokens[:, :, :5], descriptors)
    with pytest.raises(ValueError, match="use_descriptors"):
        model(tokens, None)


def test_encoder_without_descriptors_needs_none() -> None:
    model = tiny_model(use_descriptors=False).eval()
    tokens, _ = make_batch()
    assert model(tokens, None).z_style.shape == (4, 8)
    assert not any("descriptors" in name for name, _ in model.named_parameters())


def test_backward_reaches_every_parameter_and_every_head() -> None:
    model = tiny_model().train()
    output = model(*make_batch(B=6))
    generator = torch.Generator().manual_seed(1)
    probe = sum(
        (torch.randn(tuple(tensor.shape), generator=generator) * tensor).sum()
        for tensor in output_tensors(output)
    )
    probe.backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None, name
        assert torch.isfinite(parameter.grad).all(), name
    for key in ("content", "style", "part_style"):
        head_grad = sum(p.grad.abs().sum() for p in model.heads[key].parameters())
        assert head_grad > 0, key
    assert model.input_projections[0].weight.grad.abs().sum() > 0


def test_encoder_losses_backward_through_the_model() -> None:
    model = tiny_model().train()
    output = model(*make_batch(B=8))
    style = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
    content = torch.tensor([0, 1, 0, 1, -1, -1, 0, 1])
    losses = encoder_losses(output, style, content, None, EncoderLossConfig())
    losses["total"].backward()
    assert torch.isfinite(losses["total"])
    assert all(p.grad is not None for p in model.heads.parameters())


def test_same_seed_same_model_and_outputs() -> None:
    batch = make_batch()
    first, second = tiny_model(seed=3).eval(), tiny_model(seed=3).eval()
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    torch.testing.assert_close(first(*batch).z_style, second(*batch).z_style, rtol=0, atol=0)
    other = tiny_model(seed=4).eval()
    assert not torch.equal(first(*batch).z_style, other(*batch).z_style)


def test_encode_backbone_features_are_shared_by_the_heads() -> None:
    model = tiny_model().eval()
    tokens, descriptors = make_batch()
    features = model.encode_backbone(tokens)
    assert features.shape == (4, 16, NUM_TOKENS, 16)
    z_style, _ = model.heads["style"](features, descriptors)
    torch.testing.assert_close(z_style, model(tokens, descriptors).z_style)
    assert set(model.heads) == {"content", "style", "part_style"}


def test_forward_under_bfloat16_autocast_is_finite() -> None:
    model = tiny_model().train()
    tokens, descriptors = make_batch(B=8)
    with torch.autocast("cpu", dtype=torch.bfloat16):
        output = model(tokens, descriptors)
        style = torch.tensor([0, 0, 1, 1, 2, 2, 3, 3])
        losses = encoder_losses(output, style, style, None, EncoderLossConfig())
    assert losses["total"].dtype == torch.float32
    losses["total"].backward()
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)


def test_checkpoint_round_trip(tmp_path: Path) -> None:
    model = tiny_model(seed=5).eval()
    path = tmp_path / "encoder.pt"
    extra = {
        "step": 7,
        "vocabulary": {"styles": ["proud", "tired"]},
        "coarse_of_fine": torch.tensor([0, 1]),
        "numpy_rng": np.random.default_rng(0).integers(0, 10, 4),
        "legacy_rng": np.random.RandomState(0).get_state(),
    }
    save_checkpoint(path, model, extra)
    loaded, loaded_extra = load_encoder(path, map_location="cpu")
    assert loaded.config == model.config
    assert not loaded.training
    batch = make_batch()
    expected, actual = model(*batch), loaded(*batch)
    for a, b in zip(output_tensors(expected), output_tensors(actual), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert loaded_extra["step"] == 7 and loaded_extra["vocabulary"] == extra["vocabulary"]
    assert torch.equal(loaded_extra["coarse_of_fine"], extra["coarse_of_fine"])
    np.testing.assert_array_equal(loaded_extra["numpy_rng"], extra["numpy_rng"])
    np.testing.assert_array_equal(loaded_extra["legacy_rng"][1], extra["legacy_rng"][1])
    assert not list(tmp_path.glob("*.tmp"))


def _rewrite(path: Path, change: dict) -> None:
    payload = torch.load(path, weights_only=True)
    payload.update(change)
    torch.save(payload, path)


def test_checkpoint_with_unknown_version_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "future.pt"
    save_checkpoint(path, tiny_model(), {})
    _rewrite(path, {"format_version": CHECKPOINT_FORMAT_VERSION + 1})
    with pytest.raises(CheckpointError, match=r"future\.pt.*version 2"):
        load_encoder(path)


def test_checkpoint_with_mismatched_weights_is_refused_naming_the_file(tmp_path: Path) -> None:
    path = tmp_path / "mismatch.pt"
    save_checkpoint(path, tiny_model(), {})
    state_dict = tiny_model().state_dict()
    state_dict["heads.scene.weight"] = torch.zeros(1)
    del state_dict["final_norm.weight"]
    _rewrite(path, {"state_dict": state_dict})
    with pytest.raises(CheckpointError, match=r"mismatch\.pt.*final_norm\.weight.*heads\.scene"):
        load_encoder(path)


def test_checkpoint_with_unknown_config_field_or_garbage_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "config.pt"
    save_checkpoint(path, tiny_model(), {})
    config = dataclasses.asdict(tiny_config()) | {"scene_dim": 4}
    _rewrite(path, {"config": config})
    with pytest.raises(CheckpointError, match=r"config\.pt.*scene_dim"):
        load_encoder(path)
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match=r"garbage\.pt"):
        load_encoder(garbage)


LEARN_SIZES = (6, 4, 4, 6, 6, 2)  # each token: 3 "positions" then 3 "velocities"


def frequency_batch(generator: torch.Generator, B: int, num_styles: int, W: int = 16):
    """Style s is a sinusoid of s + 1 cycles per window, with a random phase and amplitude per
    feature and noise. Like `models.encoders.features`, tokens hold positions and their velocities,
    so the frequency shows as velocity energy; a linear read-out of the window cannot see it."""
    style = torch.arange(B) % num_styles
    omega = 2 * math.pi * (1.0 + style.float()).view(B, 1, 1, 1) / W
    t = torch.arange(W).float().view(1, W, 1, 1)
    phase = torch.rand(B, 1, NUM_TOKENS, 3, generator=generator) * 2 * math.pi
    amplitude = 0.5 + torch.rand(B, 1, NUM_TOKENS, 3, generator=generator)
    position = amplitude * torch.sin(omega * t + phase)
    velocity = amplitude * omega * torch.cos(omega * t + phase) * W / (8 * math.pi)
    tokens = torch.cat([position, velocity], dim=-1)  # (B, W, 6, 6)
    tokens = tokens + 0.1 * torch.randn(tokens.shape, generator=generator)
    for index, size in enumerate(LEARN_SIZES):
        tokens[:, :, index, size:] = 0.0
    return tokens, style


def test_style_supcon_falls_when_style_is_a_frequency_in_the_input() -> None:
    torch.manual_seed(0)
    config = tiny_config(token_sizes=LEARN_SIZES, d_model=32, num_layers=1, use_descriptors=False)
    model = MotionEncoder(dataclasses.replace(config, style_dim=16))
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
    # held-out windows, two per style: a perfect encoder scores ~0, a collapsed one log(7)
    eval_tokens, eval_style = frequency_batch(torch.Generator().manual_seed(123), 8, 4)

    def eval_loss() -> float:
        with torch.no_grad():
            return float(supervised_info_nce(model.eval()(eval_tokens, None).z_style, eval_style))

    before = eval_loss()
    generator = torch.Generator().manual_seed(1)
    for _ in range(200):
        tokens, style = frequency_batch(generator, 16, 4)
        loss = supervised_info_nce(model.train()(tokens, None).z_style, style, 0.1)
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    after = eval_loss()
    assert after < 0.5 * before, (before, after)


def test_content_instance_norm_makes_z_content_blind_to_per_window_channel_offsets() -> None:
    """With `content_instance_norm` the content head sees every backbone channel normalised
    over the window: a per-window, per-channel offset and positive scale of the backbone
    features (where static posture and amplitude live) leaves z_c unchanged; without it z_c
    moves."""
    features = torch.randn(3, 16, NUM_TOKENS, 16, generator=torch.Generator().manual_seed(1))
    generator = torch.Generator().manual_seed(2)
    offset = 3.0 * torch.randn(3, 1, NUM_TOKENS, 16, generator=generator)
    scale = 0.5 + torch.rand(3, 1, NUM_TOKENS, 16, generator=generator)
    shifted = features * scale + offset
    normed = tiny_model(content_instance_norm=True).eval().heads["content"]
    plain = tiny_model(content_instance_norm=False).eval().heads["content"]
    for a, b in zip(normed(features), normed(shifted), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-4, atol=1e-4)
    assert not torch.allclose(plain(features)[1], plain(shifted)[1], atol=1e-2)


def test_checkpoint_without_the_instance_norm_field_loads_with_it_off(tmp_path: Path) -> None:
    """Checkpoints written before the field existed rebuild the head they were trained with."""
    path = tmp_path / "encoder.pt"
    save_checkpoint(path, tiny_model(seed=3).eval(), {"step": 1})
    payload = torch.load(path, weights_only=True)
    del payload["config"]["content_instance_norm"]
    torch.save(payload, path)
    loaded, _ = load_encoder(path)
    assert loaded.config.content_instance_norm is False
