"""Extraction stages, one wing each: crawl, video (probe, decode, shots, pose, clips), mocap
import, scene labels and rendering of previews."""
