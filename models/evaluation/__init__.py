"""The evaluation wing: the frozen style evaluator and the stylization harness.

The evaluator network and its training on a split the encoders never saw (`evaluator`,
`train_evaluator`), the harness every stylizer goes through (`stylization_eval`, scores in
`stylization_scores`, metrics in `motion_metrics`), the non-learned baselines (`baselines`) and
the strength-sweep plot. Imports the encoders wing and, for the stylizer's request type
(`StyleTarget`), the diffusion wing; never scene.
"""
