"""The crawl wing: styles file to downloaded, probed videos in the `videos` table.

The styles file (`sources`), the yt-dlp settings and download archive (`config`), error
classification and retries (`errors`), one download session (`session`), the stored media file
(`media`) and the resumable crawl driver (`crawl`).
"""
