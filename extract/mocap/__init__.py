"""The mocap wing: BVH datasets to canonical clips.

BVH import and resampling (`bvh_import`), label layouts (`labels`), the shared style vocabulary
(`style_vocabulary` with its `style_vocabulary.yaml`), one dataset per source (`dataset_guard`)
and the resumable ingest (`ingest`).
"""
