"""The motion VAE's contract: shapes, refusals, the KL term, and the latent space's round trip."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from models.diffusion.motion_repr import MOTION_DIM, MotionNormaliser
from models.diffusion.motion_vae import LatentSpace, MotionVAE, MotionVAEConfig, kl_divergence


def _vae(**overrides) -> MotionVAE:
    torch.manual_seed(0)
    values = {"motion_dim": MOTION_DIM, "latent_dim": 8, "hidden": 32} | overrides
    return MotionVAE(MotionVAEConfig(**values)).eval()


def test_config_refuses_windows_and_factors_that_do_not_fit() -> None:
    with pytest.raises(ValueError, match="power of two"):
        MotionVAEConfig(MOTION_DIM, downsample=3)
    with pytest.raises(ValueError, match="window_frames 62 is not a multiple of downsample 4"):
        MotionVAEConfig(MOTION_DIM, window_frames=62)
    assert MotionVAEConfig(MOTION_DIM, window_frames=64, downsample=8).latent_frames == 8


def test_shapes_through_encoder_and_decoder() -> None:
    vae = _vae()
    x = torch.randn(3, 60, MOTION_DIM)
    mean, logvar = vae.encode(x)
    assert mean.shape == logvar.shape == (3, 15, 8)
    assert vae.decode(mean).shape == (3, 60, MOTION_DIM)
    recon, _, _ = vae(x, torch.Generator().manual_seed(0))
    assert recon.shape == x.shape and torch.isfinite(recon).all()
    with pytest.raises(ValueError, match=r"motion of shape \(3, 59, 57\).*\(B, 60, 57\)"):
        vae.encode(x[:, :59])
    with pytest.raises(ValueError, match=r"latent of shape"):
        vae.decode(torch.zeros(1, 16, 8))


def test_kl_is_zero_only_at_the_prior() -> None:
    zeros = torch.zeros(2, 15, 8)
    assert float(kl_divergence(zeros, zeros)) == pytest.approx(0.0, abs=1e-7)
    assert float(kl_divergence(zeros + 0.5, zeros)) == pytest.approx(0.125)
    assert float(kl_divergence(zeros, zeros - 1.0)) > 0.0


def test_latent_space_standardises_and_decodes_to_positions() -> None:
    vae = _vae()
    rng = np.random.default_rng(0)
    windows = rng.normal(size=(16, 60, 19, 3)).astype(np.float32)
    normaliser = MotionNormaliser.fit(windows)
    local = torch.as_tensor(windows)
    with torch.no_grad():
        means = vae.encode(normaliser.encode(local))[0].reshape(-1, 8)
    space = LatentSpace(vae, normaliser, means.mean(0), means.std(0))
    z = space.encode(local)
    assert z.shape == (16, 15, 8) and space.frame_factor == 4
    flat = z.reshape(-1, 8)
    assert torch.allclose(flat.mean(0), torch.zeros(8), atol=1e-4)
    assert torch.allclose(flat.std(0), torch.ones(8), atol=1e-3)
    decoded = space.decode(z.requires_grad_(True))
    assert decoded.shape == (16, 60, 19, 3)
    decoded.sum().backward()  # differentiable in z: losses on motion reach the denoiser
    assert z.grad is not None and not any(p.requires_grad for p in vae.parameters())


def test_mirrored_training_windows_swap_sides_and_still_face_forward() -> None:
    from models.diffusion.train_vae import mirror_windows
    from storage.skeleton import JOINT_INDEX

    rng = np.random.default_rng(1)
    windows = rng.normal(size=(3, 60, 19, 3)).astype(np.float32)
    mirrored = mirror_windows(windows)
    left, right = JOINT_INDEX["left_wrist"], JOINT_INDEX["right_wrist"]
    assert np.allclose(mirrored[:, :, left, 0], -windows[:, :, right, 0])
    assert np.allclose(mirrored[:, :, left, 1:], windows[:, :, right, 1:])
    assert np.allclose(mirror_windows(mirrored), windows)
