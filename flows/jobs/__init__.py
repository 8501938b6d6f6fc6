"""Library jobs: plain functions that need both `extract` and `models`, with no Prefect in them.

The batch stylize job (`stylize.py`), where its motions come from (`stylize_inputs.py`), its
scene inputs (`scene_style_inputs.py`) and the scene-style jobs (`scene_style.py`: scene-name
embeddings, evaluate-scene). The command line (`flows.cli`) and the Prefect flows both call
these; a job imports neither, and refuses bad input with an error marked
`storage.errors.UserInputError`.
"""
