"""Extraction stages: crawl, ffmpeg, pose, canonicalisation, mocap import, rendering."""
