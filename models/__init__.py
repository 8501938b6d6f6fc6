"""Motion features, encoders, losses, diffusion, scene encoder, training, evaluation, stylization.

Imports storage and torch only; never extract, flows or Prefect.
"""
