"""The stylizer's ablation table: adaptor variants (one loss switch or design each), every one
scored by the frozen evaluator over several sampling seeds, mean ± sd per cell.

Usage (docs/STYLIZATION.md keeps the measured table):
    python scripts/ablate_stylizer.py --data ROOT --encoders ENC --base BASE_RUN --evaluator EVAL
        --out OUT [--variants full,no-style,...] [--steps 300] [--seeds 0,1,2]
        [--strengths 1] [--content-path edit] [--max-sources 12] [--extra NAME=RUN ...]

Each variant trains an adaptor on BASE_RUN into OUT/<variant> (skipped when its checkpoint is
there), then `stylemotion evaluate` scores it once per seed (`eval_<content path>_seed<k>.json`
in the run's directory; an existing file is reused, so a changed `--strengths` or
`--max-sources` needs a fresh OUT); `--extra NAME=RUN` adds an already-trained run (no training;
its evaluations are written into that run's directory). `--adain RUN` adds the feed-forward
baseline's rows. The table goes to OUT/table.md and stdout, the Pareto plot to OUT/pareto.png.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from flows.cli import main as stylemotion

VARIANTS: dict[str, list[str]] = {
    "full": [],
    "full-seed1": ["seed=1"],  # training seeds: the edit path is almost deterministic given
    "full-seed2": ["seed=2"],  # the run, so a run's spread comes from how it was trained
    "no-source-control": ["source_control=false"],
    "no-style": ["losses.style_enabled=false"],
    "no-part-style": ["losses.part_style_enabled=false"],
    "no-content": ["losses.content_enabled=false"],
    "no-key-joint": ["losses.key_joint_enabled=false"],
    "no-foot": ["losses.foot_enabled=false"],
    "no-bone": ["losses.bone_enabled=false"],
    "no-velocity": ["losses.velocity_enabled=false"],
    "no-condition-orthogonality": ["losses.condition_orthogonality_enabled=false"],
    "with-discriminator": ["losses.discriminator_enabled=true"],
}
FULL = ["source_control=true"]  # the design every variant switches one thing of
COLUMNS = (
    "sra",
    "content_accuracy_among_sources",
    "key_joint_error_m",
    "wrist_speed_ratio",
    "timing_correlation",
    "foot_skate_ratio",
    "part_leakage",
)


def train(args: argparse.Namespace, name: str) -> Path:
    out = args.out / name
    if (out / "last.pt").is_file() and (out / "done").is_file():
        return out
    sets = [*FULL, f"steps={args.steps}", "batch_size=32", *VARIANTS[name]]
    command = ["train-diffusion", "--data", args.data, "--encoders", args.encoders]
    command += ["--stage", "adaptor", "--base", args.base, "--out", str(out)]
    if stylemotion([*command, *(f"--set={item}" for item in sets)]) != 0:
        raise SystemExit(f"training {name} failed")
    (out / "done").write_text("ok\n")
    return out


def evaluate(args: argparse.Namespace, run: Path, seed: int, adain: bool = False) -> dict:
    path = run / f"eval_{args.content_path}_seed{seed}.json"
    if path.is_file():
        return json.loads(path.read_text())
    command = ["evaluate", "--data", args.data, "--evaluator", args.evaluator, "--no-parts"]
    command += ["--adain" if adain else "--run", str(run), "--seeds", str(seed)]
    command += ["--strengths", args.strengths, "--set", f"max_sources={args.max_sources}"]
    if not adain:
        command += ["--content-path", args.content_path]
    command += ["--out", str(path)]
    if stylemotion(command) != 0:
        raise SystemExit(f"evaluating {run} failed")
    return json.loads(path.read_text())


def rows_of(report: dict, skip: tuple[str, ...] = ()) -> dict[tuple[str, float], dict]:
    return {
        (row["stylizer"], row["strength"]): row
        for row in report["results"]
        if row["stylizer"] not in skip
    }


def cell(values: list[float | None]) -> str:
    numbers = [v for v in values if v is not None]
    if not numbers:
        return "–"
    if len(numbers) == 1:
        return f"{numbers[0]:.3f}"
    return f"{statistics.mean(numbers):.3f} ± {statistics.stdev(numbers):.3f}"


def table(collected: dict[str, list[dict]], real: dict) -> str:
    lines = ["| variant | strength | " + " | ".join(COLUMNS) + " | seeds |"]
    lines.append("|---|---:|" + "---:|" * (len(COLUMNS) + 1))
    for name, rows in collected.items():
        strengths = sorted({key for row in rows for key in row})
        for key in strengths:
            picked = [row[key] for row in rows if key in row]
            cells = [cell([r[c] for r in picked]) for c in COLUMNS]
            shown = "–" if key[1] is None else f"{key[1]:g}"
            label = name if key[0] in ("diffusion", name) else f"{name} ({key[0]})"
            lines.append(f"| {label} | {shown} | " + " | ".join(cells) + f" | {len(picked)} |")
    lines.append(
        "| real performances | – | " + " | ".join(cell([real[c]]) for c in COLUMNS) + " | |"
    )
    return "\n".join(lines)


def pareto_plot(collected: dict[str, list[dict]], real: dict, path: Path) -> None:
    """Mean SRA against mean content accuracy among sources, one curve per variant (labels are
    the strengths): the plane on which a design must dominate the others."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    figure, axes = plt.subplots(figsize=(7, 5))
    for name, rows in collected.items():
        curves: dict[str, list[tuple[float, float, float | None]]] = {}
        for key in sorted({key for row in rows for key in row}, key=lambda k: (k[0], k[1] or 0)):
            picked = [row[key] for row in rows if key in row]
            x = statistics.mean(r["content_accuracy_among_sources"] for r in picked)
            y = statistics.mean(r["sra"] for r in picked)
            label = name if key[0] in ("diffusion", name) else key[0]
            curves.setdefault(label, []).append((x, y, key[1]))
        for label, points in curves.items():
            xs, ys = [p[0] for p in points], [p[1] for p in points]
            axes.plot(xs, ys, marker="o", label=label)
            for x, y, strength in points:
                if strength is not None and len(points) > 1:
                    axes.annotate(f"{strength:g}", (x, y), fontsize=7)
    axes.scatter(
        [real["content_accuracy_among_sources"]], [real["sra"]], marker="*", s=150,
        color="black", label="real performances", zorder=3,
    )  # fmt: skip
    axes.set_xlabel("content accuracy among sources (frozen evaluator)")
    axes.set_ylabel("style recognition accuracy (SRA)")
    axes.set_title("strength sweeps: up and right is better")
    axes.legend(fontsize=7)
    figure.tight_layout()
    figure.savefig(path, dpi=120)
    plt.close(figure)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    for name in ("data", "encoders", "base", "evaluator"):
        parser.add_argument(f"--{name}", required=True)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--steps", type=int, default=300)
    parser.add_argument("--seeds", default="0,1,2")
    parser.add_argument("--strengths", default="1")
    parser.add_argument("--content-path", default="edit")
    parser.add_argument("--max-sources", type=int, default=12)
    parser.add_argument("--extra", action="append", default=[], help="NAME=RUN, trained already")
    parser.add_argument("--adain", help="a train-adain run: the feed-forward baseline's rows")
    args = parser.parse_args()
    seeds = [int(s) for s in args.seeds.split(",")]
    baselines = ("identity", "style_clip_copy", "nearest_neighbour")
    collected: dict[str, list[dict]] = {}
    real: dict = {}
    runs = {name: None for name in args.variants.split(",") if name}
    runs |= dict(item.split("=", 1) for item in args.extra)
    for name, given in runs.items():
        run = Path(given) if given else train(args, name)
        reports = [evaluate(args, run, seed) for seed in seeds]
        collected[name] = [rows_of(report, baselines) for report in reports]
        real = reports[0]["real"]
        collected.setdefault("baselines", [rows_of(r) for r in reports])
    if args.adain:
        reports = [evaluate(args, Path(args.adain), seed, adain=True) for seed in seeds]
        collected["feed-forward AdaIN"] = [rows_of(r, baselines) for r in reports]
    if not real:
        raise SystemExit("no diffusion run to score: give --variants or --extra")
    collected["baselines"] = [
        {k: v for k, v in rows.items() if k[0] in baselines} for rows in collected["baselines"]
    ]
    text = table(collected, real)
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "table.md").write_text(text + "\n")
    pareto_plot(collected, real, args.out / "pareto.png")
    print(text)


if __name__ == "__main__":
    main()
