"""The rendering wing: preview videos of clips (skeleton panels, optional video overlay).

The renderer (`render`), its camera (`camera`), the side-by-side overlay on the source video
(`overlay`) and the ffmpeg writer (`video_writer`).
"""
