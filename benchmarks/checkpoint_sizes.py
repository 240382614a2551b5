"""Disk used by a fine-tuning run's outputs, this checkout beside a baseline revision.

Runs the same short ``convenv finetune`` (task ``personachat``, no label store needed)
with each tree and prints, per run, the size of every checkpoint, of the model at the
top of ``--out``, and the directory's total with hard links counted once.

Usage: python benchmarks/checkpoint_sizes.py --baseline REV [--model smollm2]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
from pathlib import Path

from benchmarks.partner_speed import baseline_tree

RUN = (
    "import sys, os\n"
    "if os.environ.get('CONVENV_BASELINE'):\n"
    "    sys.meta_path = [f for f in sys.meta_path\n"
    "                     if 'Editable' not in getattr(f, '__name__', '')]\n"
    "from convenv.cli import main\n"
    "sys.exit(main(sys.argv[1:]))\n"
)


def disk_use(paths: list[Path], seen: set[tuple[int, int]]) -> int:
    """Bytes of the files under ``paths``, each inode counted once across calls."""
    total = 0
    for root in paths:
        for path in [root] if root.is_file() else root.rglob("*"):
            stat = path.stat()
            if path.is_file() and (stat.st_dev, stat.st_ino) not in seen:
                seen.add((stat.st_dev, stat.st_ino))
                total += stat.st_size
    return total


def finetune(site: Path | None, out: Path, model: str, steps: int) -> dict[str, int]:
    env = {**os.environ, "OMP_NUM_THREADS": "2"}
    if site is not None:
        env.update(PYTHONPATH=str(site), CONVENV_BASELINE="1")
    args = ["finetune", "--model", model, "--task", "personachat", "--personachat-dialogs",
            "20", "--max-steps", str(steps), "--save-every", "1", "--batch-size", "1",
            "--max-length", "128", "--device", "cpu", "--no-progress",
            "--out", str(out)]  # fmt: skip
    subprocess.run([sys.executable, "-c", RUN, *args], env=env, check=True,
                   cwd=tempfile.gettempdir(), stdout=subprocess.DEVNULL)  # fmt: skip
    seen: set[tuple[int, int]] = set()
    sizes = {p.name: disk_use([p], seen) for p in sorted(out.glob("checkpoint-*"))}
    sizes["model at the top"] = disk_use([p for p in out.iterdir() if p.is_file()], seen)
    sizes["total"] = sum(sizes.values())
    return sizes


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--baseline", required=True, help="a git revision to compare with")
    parser.add_argument("--model", default="smollm2", help="the base model")
    parser.add_argument("--steps", type=int, default=3, help="updates (one checkpoint each)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        scratch = Path(scratch)
        site = baseline_tree(args.baseline, scratch)
        before = finetune(site, scratch / "before", args.model, args.steps)
        after = finetune(None, scratch / "after", args.model, args.steps)
    print(f"`convenv finetune --model {args.model}`, {args.steps} updates, a checkpoint "
          "each, 2 kept (the default); MB, hard links counted once\n")  # fmt: skip
    print(f"| part | baseline {args.baseline} | this checkout |\n|---|---|---|")
    for name in dict.fromkeys([*before, *after]):
        cells = [f"{d[name] / 1e6:,.0f}" if name in d else "–" for d in (before, after)]
        print(f"| {name} | {cells[0]} | {cells[1]} |")
    print(f"\ntotal, baseline / this checkout: {before['total'] / after['total']:.2f}x")


if __name__ == "__main__":
    main()
