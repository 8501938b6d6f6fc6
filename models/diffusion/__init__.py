"""The diffusion wing: the stylization diffusion model, its training and the stylizer.

Motion representation, noise schedule + DDIM, the denoiser with its LoRA + style cross-attention
adaptor, losses, the optional discriminator, data and two-stage training (`train`, checkpoints
in `checkpoint`), the optional latent mode (`motion_vae`, `train_vae`, `vae_run`), and
stylization (`stylize`, which owns `StyleTarget`; per-part composition in `part_compose`).
Imports the encoders wing (frozen encoders) and never evaluation or scene.
"""
