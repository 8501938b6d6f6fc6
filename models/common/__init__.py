"""What every training loop of every wing shares; imports no wing of `models`.

Device choice and seeding (`training`), the progress bar and metrics.jsonl (`training_log`),
atomic, kind/version-checked checkpoints (`checkpoint_io`) and config dataclasses from files
and `--set` overrides (`config_io`).
"""
