"""The video wing: from a stored video to raw pose tracks and canonical clips.

ffprobe and its limits (`probe`), normalised decoding (`frames`), shot cuts (`shots`), a local
copy of media on any filesystem (`local_media`), MediaPipe pose and tracking (`pose_model`,
`pose`, `pose_tracking`, `pose_identity`), cleaning into canonical clips (`pose_clips`,
`pose_cleaning`, `pose_trajectory`) and the resumable driver (`ingest`).
"""
