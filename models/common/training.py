"""What a training loop does first: pick its device and seed every random generator.

Owns `choose_device` ("auto" is CUDA when present, else CPU) and `seed_everything` (Python,
NumPy and torch from one seed), shared by the encoder, diffusion and VAE training loops and the
encoder evaluation.
"""

from __future__ import annotations

import random

import numpy as np
import torch


def choose_device(name: str) -> torch.device:
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(name)


def seed_everything(seed: int) -> None:
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)
