"""The sampler's content paths and the defaults the commands use, free of torch so the command
line can read them without loading a model.

"generate": the model draws the motion from its conditions; "edit": it draws the change from the
source (`models.diffusion.sampler`). The stylize and evaluate commands, the jobs and the demo
edit the source at strength 2, the operating point measured in docs/STYLIZATION.md ("Keeping
the source's content"); `DiffusionStylizer` itself defaults to "generate", which the scene
evaluation measures.
"""

from __future__ import annotations

CONTENT_PATHS = ("generate", "edit")
LIBRARY_CONTENT_PATH = "generate"
DEFAULT_CONTENT_PATH = "edit"
DEFAULT_STRENGTH = 2.0
