"""The parameters of `crawl-and-extract`: the library's crawl and extraction configs, bundled.

A flow's parameters are the library's own frozen config dataclasses (`CrawlConfig`,
`VideoExtractConfig`); this one only adds what the composition needs (which videos, how many
downloads at once, where the preview goes). Prefect validates it from a deployment's or the
UI's JSON, so `prefect.yaml` writes it as a nested mapping with the same field names.
"""

from __future__ import annotations

from dataclasses import dataclass

from extract.crawl.config import CrawlConfig
from extract.video.ingest import VideoExtractConfig


@dataclass(frozen=True)
class CrawlExtractConfig:
    """`crawl-and-extract`: crawl a styles file and/or inputs, then poses and clips.

    `crawl.out_root` and `extract.root` are the same dataset root. `inputs` are files, folders
    or URLs, all labelled `style`; `styles_file` is the YAML of `extract.crawl.sources`. At most
    `max_parallel_downloads` crawl shards fetch at once (a global concurrency limit named
    `download_limit_name`, set to this value by the flow).
    """

    crawl: CrawlConfig
    extract: VideoExtractConfig
    styles_file: str | None = None
    inputs: tuple[str, ...] = ()
    style: str | None = None
    max_parallel_downloads: int = 2
    download_limit_name: str = "stylemotion-downloads"
    preview_dir: str | None = None  # a local folder for the skeleton preview video
