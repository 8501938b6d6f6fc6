"""Motion features, encoders, losses, diffusion, scene encoder, training, evaluation, stylization.

Four wings, each a subpackage: `encoders` at the bottom, `diffusion` above it, `evaluation`
above both, `scene` on top; `common` holds what every training loop shares and imports no wing
(the order is enforced by `tests/test_import_rules.py`). Imports storage and torch only; never
extract, flows or Prefect.
"""
