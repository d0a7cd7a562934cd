"""Does every RL notebook learn on any seed, on a newcomer's first run? The tiny course's RL
notebooks (01, 03, 04, 05, 06, with 02 whose checkpoint 03 trains) for several seeds, each seed on
an empty tiny-model cache, and a table: first -> last quarter of the reward per notebook and seed,
wall time.

    python -m benchmarks.rl_seeds                     # seeds 0-4, into runs/seeds (~3 min a seed)
    python -m benchmarks.rl_seeds --seeds 5 6 --out runs/more-seeds
    python -m benchmarks.rl_seeds --only 02 03        # some notebooks (03 needs 02; 05, 06 need 01)

Not a test (it takes a quarter of an hour); the tests run two seeds of each RL notebook.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
from pathlib import Path

from course_tools.runner import run_course
from helpers.evaluation import mcnemar_p

RL_NOTEBOOKS = [
    "01_genre_ppo_bert_reward",
    "03_ppo_on_sft_model",
    "04_grpo_heuristic_rewards",
    "05_rloo_genre_modern_trl",
    "06_preferences_reward_model_dpo",
]


def seed_rows(run_dir: Path, seed: int) -> list[dict]:
    rows = []
    for stem in RL_NOTEBOOKS:
        path = run_dir / stem / "metrics.json"
        if not (run_dir / stem).exists() and not (run_dir / f"{stem}.failed").exists():
            continue  # not run (--only)
        if not path.exists():
            rows.append({"seed": seed, "notebook": stem, "status": "failed"})
            continue
        metrics = json.loads(path.read_text())
        learning = metrics["learning"]
        row = {
            "seed": seed,
            "notebook": stem,
            "status": "ran",
            "metric": learning["metric"],
            "first": learning["first_quarter_mean"],
            "last": learning["last_quarter_mean"],
            "rise": round(learning["last_quarter_mean"] - learning["first_quarter_mean"], 4),
            "wall_seconds": metrics["wall_seconds"],
        }
        if metrics.get("eval"):
            row["accuracy"] = (
                metrics["eval"]["before"]["lenient"],
                metrics["eval"]["after"]["lenient"],
            )
            row["paired"] = metrics["eval"].get("paired")  # problems gained and lost, McNemar's p
            row["sample_size"] = metrics["eval"]["sample_size"]
        if metrics.get("reward_model_accuracy"):  # 06
            turn = metrics["over_optimisation"]["runs"][
                str(metrics["over_optimisation"]["loosest_beta"])
            ]["turn"]
            row["notes"] = (
                f"reward model {metrics['reward_model_accuracy']['accuracy']:.1%}; gold "
                f"win rate DPO {metrics['dpo']['gold_win_rate']['win_rate']:.1%}, RLOO "
                f"{metrics['rloo']['gold_win_rate']['win_rate']:.1%}; gold "
                f"{'turned' if metrics['over_optimisation']['turned'] else 'did not turn'} "
                f"(peak {turn['gold_at_peak']:.2f} at KL {turn['kl_at_peak']:.1f}, fell "
                f"{turn['gold_fell_after_peak']:.2f})"
            )
        rows.append(row)
    return rows


def table(rows: list[dict]) -> str:
    lines = [
        "| notebook | seed | reward | first quarter -> last quarter | rise | greedy "
        "accuracy before -> after | wall s | notes |",
        "| --- | --- | --- | --- | --- | --- | --- | --- |",
    ]
    for r in sorted(rows, key=lambda r: (r["notebook"], r["seed"])):
        if r["status"] != "ran":
            lines.append(f"| {r['notebook']} | {r['seed']} | **failed** | | | | | |")
            continue
        accuracy = f"{r['accuracy'][0]:.1%} -> {r['accuracy'][1]:.1%}" if "accuracy" in r else ""
        if r.get("paired"):
            accuracy += (
                f" (n={r['sample_size']}: +{r['paired']['gained']} -{r['paired']['lost']}, "
                f"p={r['paired']['p_value']:.3g})"
            )
        lines.append(
            f"| {r['notebook']} | {r['seed']} | {r['metric']} | {r['first']:.3f} -> "
            f"{r['last']:.3f} | {r['rise']:+.3f} | {accuracy} | {r['wall_seconds']:.0f} | "
            f"{r.get('notes', '')} |"
        )
    return "\n".join(lines + pooled(rows)) + "\n"


def pooled(rows: list[dict]) -> list[str]:
    """Per notebook with paired accuracies: the problems gained and lost over all seeds, and
    McNemar's p."""
    lines = []
    for stem in RL_NOTEBOOKS:
        paired = [r["paired"] for r in rows if r["notebook"] == stem and r.get("paired")]
        if paired:
            gained, lost = sum(p["gained"] for p in paired), sum(p["lost"] for p in paired)
            lines.append(
                f"\n{stem}, pooled over {len(paired)} seeds: {gained} problems wrong -> "
                f"right, {lost} right -> wrong, McNemar p = {mcnemar_p(gained, lost):.3g}"
            )
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2, 3, 4])
    parser.add_argument("--out", default="runs/seeds")
    parser.add_argument(
        "--only", nargs="*", default=["01", "02", "03", "04", "05", "06"], help="notebook prefixes"
    )
    args = parser.parse_args()
    out = Path(args.out)
    rows = []
    for seed in args.seeds:
        with tempfile.TemporaryDirectory(prefix="cold-cache-") as cache:
            os.environ["RLHF_TINY_CACHE"] = (
                cache  # a newcomer's first run: every tiny model built in the notebooks
            )
            run_course("tiny", out / f"seed-{seed}", only=args.only, seed=seed)
        rows += seed_rows(out / f"seed-{seed}", seed)
        (out / "seeds.json").write_text(json.dumps(rows, indent=1))
        (out / "seeds.md").write_text(table(rows))
    print(table(rows))


if __name__ == "__main__":
    main()
