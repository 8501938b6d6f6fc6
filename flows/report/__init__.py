"""The report of a main-job run: one static, self-contained HTML page from the runs it is given.

`write_report(root, runs, out)` (`build.py`) tells each input's kind by its files
(`inputs.py`: dataset root, encoder / diffusion / VAE / scene / evaluator run, stylize output,
evaluate output), reads its part (`stylized.py`: preview videos with their style and strength;
`evaluation.py`: the evaluation table and strength sweep; `runs.py`: run cards with config and
checkpoint sha256, style-embedding plots, the dataset summary of `storage.summary`) into the
records of `records.py`, and draws the page (`page.py`, markup and escaping in `markup.py`) with
every shown file copied next to it. Plain functions with no Prefect: the command line
(`stylemotion report`) and the flows both call `write_report`; the Prefect link artifact to the
page is `flows.artifacts.publish_report_link`.
"""
