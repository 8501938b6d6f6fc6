"""Diffusion building blocks on hand-checked cases: schedule, features twin, denoiser, losses."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.diffusion.denoiser import DenoiserConfig, MotionDenoiser
from models.diffusion.losses import (
    bone_length_loss,
    diffusion_loss,
    foot_skate_loss,
    key_joint_loss,
    style_identity_loss,
    velocity_loss,
)
from models.diffusion.motion_repr import MOTION_DIM, MotionNormaliser, placement_of, to_local_window
from models.diffusion.schedule import NoiseSchedule
from models.encoders.features import window_features
from models.encoders.torch_features import unwrap, window_features_torch
from storage.skeleton import JOINT_INDEX, rest_positions


def _standing(frames: int = 60) -> np.ndarray:
    rest = rest_positions().astype(np.float32)
    rest = rest - np.array([0.0, rest[:, 1].min(), 0.0], np.float32)
    return np.repeat(rest[None], frames, axis=0)  # (W, J, 3) feet on the floor


def _walking(frames: int = 60, speed: float = 1.0, fps: float = 30.0) -> np.ndarray:
    positions = _standing(frames).copy()
    positions[..., 2] += speed * np.arange(frames)[:, None] / fps
    arm = JOINT_INDEX["left_wrist"]
    positions[:, arm, 1] += 0.2 * np.sin(np.arange(frames) / 3.0)
    return positions


def test_cosine_schedule_contract() -> None:
    schedule = NoiseSchedule(1000)
    a = schedule.alphas_cumprod
    assert a.shape == (1000,) and bool((a[1:] < a[:-1]).all())
    assert 0.99 < float(a[0]) <= 1.0 and float(a[-1]) < 1e-3
    x0, noise = torch.randn(4, 60, MOTION_DIM), torch.randn(4, 60, MOTION_DIM)
    t = torch.tensor([0, 10, 500, 999])
    x_t = schedule.q_sample(x0, t, noise)
    assert torch.allclose(schedule.noise_from_x0(x_t, x0, t), noise, atol=1e-3)
    steps = schedule.ddim_timesteps(20)
    assert steps[0] == 999 and steps[-1] == 0 and steps == sorted(set(steps), reverse=True)
    assert len(steps) == 20
    with pytest.raises(ValueError, match="DDIM steps"):
        schedule.ddim_timesteps(0)


def test_ddim_with_the_true_x0_lands_on_it() -> None:
    schedule = NoiseSchedule(1000)
    x0 = torch.randn(2, 60, MOTION_DIM)
    x = torch.randn(2, 60, MOTION_DIM)
    steps = schedule.ddim_timesteps(10)
    for i, t in enumerate(steps):
        t_prev = steps[i + 1] if i + 1 < len(steps) else -1
        x = schedule.ddim_step(x, x0, t, t_prev).sample
    assert torch.allclose(x, x0, atol=1e-5)


def test_torch_features_match_numpy_and_pass_gradients() -> None:
    frames = np.arange(60)[:, None, None]
    phases = np.arange(19)[None, :, None] * np.array([0.7, 1.3, 2.1])[None, None, :]
    positions = (
        _walking() + 0.05 * np.sin(frames / (3.0 + np.arange(19)[None, :, None]) + phases)
    ).astype(np.float32)
    tokens, descriptors = window_features(positions, 30.0)
    source = torch.tensor(positions[None], requires_grad=True)
    tokens_t, descriptors_t = window_features_torch(source, 30.0)
    assert np.abs(tokens - tokens_t[0].detach().numpy()).max() < 1e-4
    assert np.abs(descriptors - descriptors_t[0].detach().numpy()).max() < 1e-4
    (tokens_t.sum() + descriptors_t.sum()).backward()
    assert source.grad is not None and torch.isfinite(source.grad).all()


def test_unwrap_matches_numpy() -> None:
    angles = np.array([0.0, 3.0, -3.0, -0.5, 3.1, -3.1])
    assert np.allclose(unwrap(torch.tensor(angles)).numpy(), np.unwrap(angles))


def test_window_placement_round_trip() -> None:
    positions = _walking()
    positions = positions @ np.array([[0, 0, 1], [0, 1, 0], [-1, 0, 0]], np.float32).T + 5.0
    local, placement = to_local_window(positions)
    assert np.allclose(local[0, JOINT_INDEX["pelvis"], [0, 2]], 0.0, atol=1e-5)
    assert np.allclose(placement.to_world(local), positions, atol=1e-4)
    assert placement == placement_of(positions)


def test_normaliser_round_trip() -> None:
    windows = np.stack([_walking(speed=s) for s in (0.5, 1.0, 1.5)])
    normaliser = MotionNormaliser.fit(windows)
    x = normaliser.encode(torch.tensor(windows))
    assert x.shape == (3, 60, MOTION_DIM)
    assert torch.allclose(normaliser.decode(x), torch.tensor(windows), atol=1e-5)
    again = MotionNormaliser.from_dict(normaliser.to_dict())
    assert np.array_equal(again.mean, normaliser.mean)


def _tiny_denoiser() -> MotionDenoiser:
    config = DenoiserConfig(MOTION_DIM, 60, content_dim=8, style_dim=8, d_model=32, num_layers=2)
    return MotionDenoiser(config).eval()


def test_denoiser_shapes_and_zero_initialised_adaptor() -> None:
    torch.manual_seed(0)
    model = _tiny_denoiser()
    x, t = torch.randn(3, 60, MOTION_DIM), torch.tensor([1, 500, 999])
    content, styles = torch.randn(3, 15, 8), torch.randn(3, 6, 8)
    base = model(x, t, content)
    assert base.shape == (3, 60, MOTION_DIM)
    model.set_adaptor(True)
    adapted = model(x, t, content, styles)
    assert torch.allclose(base, adapted, atol=1e-6)  # LoRA up and cross-attention gate start at 0
    names = {n for n, _ in model.named_parameters() if "adaptor" in n}
    assert any("lora" in n or "adaptor_up" in n for n in names) and any("gate" in n for n in names)
    assert len(model.adaptor_parameters()) + len(model.base_parameters()) == len(
        list(model.parameters())
    )
    with pytest.raises(ValueError, match="window of 30 frames"):
        model(x[:, :30], t, content)


def test_skip_connection_starts_from_x_t_and_trajectory_is_required() -> None:
    torch.manual_seed(0)
    config = DenoiserConfig(
        MOTION_DIM, 60, content_dim=8, style_dim=8, d_model=32, num_layers=1,
        skip_connection=True, trajectory_dim=4,
    )  # fmt: skip
    model = MotionDenoiser(config).eval()
    x, content = torch.randn(2, 60, MOTION_DIM), torch.randn(2, 15, 8)
    trajectory = torch.randn(2, 60, 4)
    low, high = torch.tensor([0, 0]), torch.tensor([999, 999])
    near = model(x, low, content, trajectory=trajectory)
    assert (near - x).pow(2).mean() < 1e-3 * x.pow(2).mean()  # a_0 ~ 1: almost a copy of x_t
    far = model(x, high, content, trajectory=trajectory)
    assert (far - x).pow(2).mean() > 0.5 * x.pow(2).mean()  # a_T ~ 0: the network's own output
    with pytest.raises(ValueError, match="conditioned on the source trajectory"):
        model(x, low, content)
    assert "signal_rates" not in model.state_dict()  # derived from the schedule, not saved


def test_trajectory_condition_groups_frames_for_the_latent_mode() -> None:
    from models.diffusion.motion_repr import trajectory_condition

    local = torch.zeros(1, 8, 19, 3)
    local[0, :, 0, 0] = torch.arange(8.0)  # the pelvis walks along +x
    local[0, :, 11, 0], local[0, :, 15, 0] = 0.1, -0.1  # hips: left at +x, right at -x
    per_frame = trajectory_condition(local)
    assert per_frame.shape == (1, 8, 4)
    assert torch.allclose(per_frame[0, :, 0], torch.arange(8.0))
    assert torch.allclose(per_frame[0, :, 2:], torch.tensor([0.0, 1.0]).expand(8, 2))  # +z
    grouped = trajectory_condition(local, frame_factor=4)
    assert grouped.shape == (1, 2, 16) and torch.equal(grouped.reshape(1, 8, 4), per_frame)
    with pytest.raises(ValueError, match="do not group by 3"):
        trajectory_condition(local, frame_factor=3)


def _waving(amplitude: float, held_at: float) -> torch.Tensor:
    """`(1, 60, J, 3)`: standing, the right wrist held `held_at` m up and waving sideways."""
    local = torch.as_tensor(_standing())[None].clone()
    wrist = JOINT_INDEX["right_wrist"]
    phase = torch.arange(60.0) * 2 * np.pi * 2.0 / 30.0  # 2 Hz
    local[0, :, wrist, 1] += held_at
    local[0, :, wrist, 0] += amplitude * torch.sin(phase)
    return local


def test_rhythm_channels_keep_the_gesture_timing_not_its_posture_or_amplitude() -> None:
    from models.diffusion.motion_repr import RHYTHM_CHANNELS, RHYTHM_JOINTS, rhythm_channels

    small, big = rhythm_channels(_waving(0.3, 0.0)), rhythm_channels(_waving(0.6, 0.4))
    assert small.shape == (1, 60, RHYTHM_CHANNELS)
    x = 3 * RHYTHM_JOINTS.index("right_wrist")  # the wrist's sideways channel
    wave = torch.sin(torch.arange(60.0) * 2 * np.pi * 2.0 / 30.0)
    # centred, divided by sqrt(spread^2 + 5 cm^2): a 30 cm wave keeps 99 % of unit scale
    torch.testing.assert_close(
        small[0, :, x], wave * 0.3 / np.sqrt(0.045 + 0.0025), atol=1e-3, rtol=0
    )
    # doubling the swing moves the channel by 2 % (the 5 cm floor), not by 100 %
    torch.testing.assert_close(small[0, :, x], big[0, :, x], atol=0.03, rtol=0)
    torch.testing.assert_close(
        small[0, :, x + 1], big[0, :, x + 1], atol=1e-5, rtol=0
    )  # held higher
    still = [c for c in range(RHYTHM_CHANNELS) if c != x]
    assert small[0, :, still].abs().max() < 1e-5  # joints that do not move give zero


def test_trajectory_condition_with_rhythm_appends_its_channels() -> None:
    from models.diffusion.motion_repr import (
        condition_channels,
        rhythm_channels,
        trajectory_condition,
    )

    local = _waving(0.3, 0.0)
    plain, both = trajectory_condition(local), trajectory_condition(local, rhythm=True)
    assert both.shape == (1, 60, condition_channels(True)) and condition_channels(True) == 19
    torch.testing.assert_close(both[..., :4], plain)
    torch.testing.assert_close(both[..., 4:], rhythm_channels(local))
    grouped = trajectory_condition(local, frame_factor=4, rhythm=True)
    assert grouped.shape == (1, 15, 76) and torch.equal(grouped.reshape(1, 60, 19), both)


def test_rhythm_without_the_trajectory_condition_is_refused() -> None:
    from models.diffusion.train import TrainDiffusionConfig

    with pytest.raises(ValueError, match="rhythm_condition rides on the trajectory"):
        TrainDiffusionConfig(
            data_root="d", encoder_run="e", out="o",
            rhythm_condition=True, trajectory_condition=False,
        )  # fmt: skip


def test_style_tokens_drop_to_null() -> None:
    model = _tiny_denoiser()
    tokens = model.style_tokens(torch.randn(2, 6, 8), torch.tensor([True, False]))
    assert torch.equal(tokens[1], model.adaptor_null_tokens)
    assert not torch.equal(tokens[0], model.adaptor_null_tokens)


def test_foot_skate_loss_hand_checked() -> None:
    still = torch.tensor(_standing()[None])
    assert float(foot_skate_loss(still, 30.0)) == pytest.approx(0.0, abs=1e-6)
    sliding = torch.tensor(_walking(speed=1.0)[None])  # feet on the floor moving at 1 m/s
    toe = JOINT_INDEX["left_toe"]
    on_floor = float(sliding[0, 0, toe, 1]) < 0.03
    value = float(foot_skate_loss(sliding, 30.0))
    assert on_floor and 0.4 < value <= 1.0  # toes in full contact, ankles partly
    lifted = sliding.clone()
    lifted[..., 1] += 0.5
    assert float(foot_skate_loss(lifted, 30.0)) < 1e-6


def test_bone_key_joint_style_and_diffusion_losses() -> None:
    walk = torch.tensor(_standing()[None]) + torch.linspace(0, 2, 60)[None, :, None, None]
    assert float(bone_length_loss(walk, walk)) == pytest.approx(0.0, abs=1e-6)
    stretched = walk * 1.1
    assert float(bone_length_loss(stretched, walk)) > 0.005
    shifted = walk + torch.tensor([1.0, 0.0, 0.0])
    assert float(key_joint_loss(shifted, walk, end_effector_share=0.2)) == pytest.approx(0.8)
    z = torch.nn.functional.normalize(torch.randn(4, 8), dim=-1)
    assert float(style_identity_loss(z, z)) == pytest.approx(0.0, abs=1e-6)
    assert float(style_identity_loss(z, -z)) == pytest.approx(2.0, abs=1e-5)
    weight = torch.tensor([1.0, 0.0, 0.0, 0.0])
    target = z.clone()
    target[1:] = -z[1:]
    assert float(style_identity_loss(z, target, weight)) == pytest.approx(0.0, abs=1e-6)
    assert float(velocity_loss(shifted, walk, 30.0)) == pytest.approx(0.0, abs=1e-6)
    frozen = walk[:, :1].expand_as(walk)  # standing still where every joint moves
    per_axis = 2.0 / 59 * 30.0  # the walk moves 2 m along x, y and z over 59 frames
    assert float(velocity_loss(frozen, walk, 30.0)) == pytest.approx(3 * per_axis**2, rel=1e-4)
    x = torch.zeros(2, 60, 4)
    y = torch.ones(2, 60, 4)
    assert float(diffusion_loss(x, y)) == pytest.approx(1.0)
    assert float(diffusion_loss(x, y, torch.tensor([0.0, 0.0]))) == 0.0


def test_discriminator_losses_and_projection() -> None:
    from models.diffusion.motion_discriminator import (
        MotionDiscriminator,
        discriminator_loss,
        generator_loss,
    )

    big, small = torch.full((3,), 20.0), torch.full((3,), -20.0)
    assert float(discriminator_loss(big, small)) == pytest.approx(0.0, abs=1e-6)
    assert float(discriminator_loss(small, big)) == pytest.approx(40.0, rel=1e-3)
    assert float(generator_loss(big)) == pytest.approx(0.0, abs=1e-6)
    weight = torch.tensor([1.0, 0.0, 0.0])
    assert float(generator_loss(torch.tensor([20.0, -20.0, -20.0]), weight)) < 1e-6
    network = MotionDiscriminator(MOTION_DIM, 8)
    x = torch.randn(2, 60, MOTION_DIM)
    logits = network(x, torch.randn(2, 8))
    assert logits.shape == (2,)
    assert not torch.allclose(network(x, torch.ones(2, 8)), network(x, -torch.ones(2, 8)))


def test_source_control_starts_as_the_base_and_needs_the_source() -> None:
    from models.diffusion.denoiser import with_source_control

    torch.manual_seed(0)
    model = _tiny_denoiser()
    model.set_adaptor(True)
    x, t = torch.randn(2, 60, MOTION_DIM), torch.tensor([3, 700])
    content, styles = torch.randn(2, 15, 8), torch.randn(2, 6, 8)
    before = model(x, t, content, styles)
    grown = with_source_control(model).eval()
    assert grown.config.source_control and grown.adaptor_enabled
    source = torch.randn(2, 60, MOTION_DIM)
    assert torch.allclose(grown(x, t, content, styles, source=source), before, atol=1e-6)
    control = {n for n, _ in grown.named_parameters() if "source_control" in n}
    assert control and control <= {n for n, _ in grown.named_parameters() if "adaptor" in n}
    with pytest.raises(ValueError, match="source control: pass the source"):
        grown(x, t, content, styles)
    with pytest.raises(ValueError, match=r"source \(1, 60, 57\): must match x_t"):
        grown(x, t, content, styles, source=source[:1])  # no silent broadcast over the batch
    for projection in grown.adaptor_source_control.adaptor_control_zero:  # once trained ...
        torch.nn.init.normal_(projection.weight)
    moved = grown(x, t, content, styles, source=source)
    assert not torch.allclose(moved, before, atol=1e-3)  # ... the source reaches the output
    assert with_source_control(grown) is grown
