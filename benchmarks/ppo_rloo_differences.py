"""What makes notebook 05's RLOO run differ from notebook 01's PPO run, one difference at a time?

Both train the policy notebook 01 started from, rewarded by notebook 01's classifier, with the
same texts per batch, gradient updates per batch and learning rate (the tiny profile). They still
differ in: dropout (on in 01's PPO, off in 05), the reward's scale (01 whitens each batch's
probabilities and adapts a KL weight from 0.05; 05 gives RLOO the raw probability minus
0.001 x KL), texts per prompt (01: 16 prompts, one text each; 05: 4 prompts x 4 texts), and the
algorithm itself (a value head with GAE and token-level clipping, against a leave-one-out
baseline with one ratio per text). Each variant below changes one of these on one side:

    .venvs/legacy/bin/python -m benchmarks.ppo_rloo_differences --genre-run RUN01 --side ppo
    .venvs/modern/bin/python -m benchmarks.ppo_rloo_differences --genre-run RUN01 --side rloo
    python -m benchmarks.ppo_rloo_differences --table              # the table of both

RUN01 is a tiny-profile notebook 01 output folder (its classifier and starting policy). Each
run appends a line to runs/ppo_rloo_differences.jsonl: P(target genre) per batch, first and last
quarter, seconds. About 30 s a run on one CPU thread; 4 variants x 3 seeds a side. Not a test:
the findings are in docs/decisions.md and notebook 05's section 4.
"""

from __future__ import annotations

import argparse
import json
import random
import time
from pathlib import Path

from helpers.data import GENRE_PROMPTS
from helpers.env import seed_everything, use_one_thread
from helpers.precision import precision_plan
from helpers.profiles import get_profile
from helpers.results import learning_block

RESULTS = Path("runs/ppo_rloo_differences.jsonl")
VARIANTS = {
    "ppo": {
        "as in notebook 01": {},
        "dropout off": {"dropout": False},
        "raw probability (not whitened)": {"whiten": False},
        "4 prompts x 4 texts": {"texts_per_prompt": 4},
    },
    "rloo": {
        "as in notebook 05": {},
        "dropout on": {"dropout": True},
        "01's reward: whitened, beta 0.05": {"whiten": True, "beta": 0.05},
        "8 prompts x 2 texts": {"num_generations": 2},
    },
}


def load_scorer(genre_run: Path, target_genre: str):
    from transformers import AutoModelForSequenceClassification, AutoTokenizer

    from helpers.rewards import make_classifier_scorer

    folder = genre_run / "genre_classifier"
    classifier = AutoModelForSequenceClassification.from_pretrained(folder).eval()
    return make_classifier_scorer(classifier, AutoTokenizer.from_pretrained(folder), target_genre)


def whitened(values: list[float]) -> list[float]:
    mean = sum(values) / len(values)
    spread = (sum((v - mean) ** 2 for v in values) / (len(values) - 1)) ** 0.5
    return [(v - mean) / (spread + 1e-6) for v in values]


def run_ppo(
    genre_run: Path, seed: int, dropout=True, whiten=True, texts_per_prompt=1
) -> list[float]:
    """Notebook 01's PPO loop (sections 4-6), with one of its settings changed."""
    import torch
    from transformers import AutoTokenizer
    from trl import AutoModelForCausalLMWithValueHead, PPOConfig, PPOTrainer
    from trl.trainer.utils import disable_dropout_in_model

    settings = get_profile("tiny").notebook("genre_ppo")
    seed_everything(seed)
    policy = genre_run / "policy_start"
    tokenizer = AutoTokenizer.from_pretrained(policy)
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    model = AutoModelForCausalLMWithValueHead.from_pretrained(str(policy))
    reference = AutoModelForCausalLMWithValueHead.from_pretrained(str(policy))
    if not dropout:
        disable_dropout_in_model(model)
    config = PPOConfig(
        learning_rate=settings.learning_rate,
        batch_size=settings.batch_size,
        mini_batch_size=settings.mini_batch_size,
        init_kl_coef=settings.init_kl_coef,
        seed=seed,
        log_with=None,
    )
    trainer = PPOTrainer(config, model, reference, tokenizer)
    score = load_scorer(genre_run, settings.target_genre)
    generation = dict(
        min_length=-1,
        top_k=0,
        top_p=1.0,
        do_sample=True,
        pad_token_id=tokenizer.eos_token_id,
        max_new_tokens=settings.max_new_tokens,
    )
    rng = random.Random(seed)
    means = []
    for _ in range(settings.ppo_steps):
        drawn = [rng.choice(GENRE_PROMPTS) for _ in range(settings.batch_size // texts_per_prompt)]
        prompts = [p for p in drawn for _ in range(texts_per_prompt)]
        queries = [tokenizer(p, return_tensors="pt")["input_ids"][0] for p in prompts]
        responses = trainer.generate(queries, return_prompt=False, **generation)
        probabilities = score(
            [p + tokenizer.decode(r, skip_special_tokens=True) for p, r in zip(prompts, responses)]
        )
        rewards = whitened(probabilities) if whiten else probabilities
        trainer.step(queries, responses, [torch.tensor(r) for r in rewards])
        means.append(sum(probabilities) / len(probabilities))
    return means


def run_rloo(
    genre_run: Path, seed: int, dropout=False, whiten=False, beta=None, num_generations=None
) -> list[float]:
    """Notebook 05's RLOO run (sections 1-3), with one of its settings changed."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import RLOOConfig, RLOOTrainer

    settings = get_profile("tiny").notebook("genre_rloo")
    k = num_generations or settings.num_generations
    seed_everything(seed)
    score = load_scorer(genre_run, settings.target_genre)
    means = []

    def genre_reward(completions, prompts, **kwargs):  # called once per batch of 16 texts
        probabilities = score([p + c for p, c in zip(prompts, completions)])
        means.append(sum(probabilities) / len(probabilities))
        return whitened(probabilities) if whiten else probabilities

    policy = genre_run / "policy_start"
    tokenizer = AutoTokenizer.from_pretrained(policy)
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    updates_per_batch = (
        settings.generation_batch_size
        // settings.per_device_train_batch_size
        * settings.num_iterations
    )
    batches = settings.max_steps // updates_per_batch
    prompts = batches * settings.generation_batch_size // k
    dataset = Dataset.from_dict(
        {"prompt": [GENRE_PROMPTS[i % len(GENRE_PROMPTS)] for i in range(prompts)]}
    )
    args = RLOOConfig(
        output_dir=str(Path("runs") / "ppo_rloo_differences_trainer"),
        max_steps=settings.max_steps,
        generation_batch_size=settings.generation_batch_size,
        per_device_train_batch_size=settings.per_device_train_batch_size,
        num_iterations=settings.num_iterations,
        num_generations=k,
        max_completion_length=settings.max_completion_length,
        learning_rate=settings.learning_rate,
        beta=settings.beta if beta is None else beta,
        temperature=1.0,
        top_k=0,
        disable_dropout=not dropout,
        lr_scheduler_type="constant",
        logging_steps=updates_per_batch,
        save_strategy="no",
        report_to="none",
        seed=seed,
        disable_tqdm=True,
        **precision_plan(settings.precision, "cpu").trainer_flags,
    )
    trainer = RLOOTrainer(
        model=AutoModelForCausalLM.from_pretrained(policy),
        reward_funcs=genre_reward,
        args=args,
        train_dataset=dataset,
        processing_class=tokenizer,
    )
    trainer.train()
    return means


def measure(side: str, genre_run: Path, seeds: list[int], only: list[str] | None) -> None:
    use_one_thread()
    run = run_ppo if side == "ppo" else run_rloo
    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    for name, change in VARIANTS[side].items():
        if only and name not in only:
            continue
        for seed in seeds:
            start = time.time()
            means = run(genre_run, seed, **change)
            row = {
                "side": side,
                "variant": name,
                "seed": seed,
                "seconds": round(time.time() - start, 1),
                **learning_block(means, "P(target genre)"),
                "per_batch": [round(m, 4) for m in means],
            }
            print(
                f"{side} {name!r} seed {seed}: {row['first_quarter_mean']:.3f} -> "
                f"{row['last_quarter_mean']:.3f} ({row['seconds']} s)",
                flush=True,
            )
            with RESULTS.open("a") as out:
                out.write(json.dumps(row) + "\n")


def table() -> str:
    rows = [json.loads(line) for line in RESULTS.read_text().splitlines()]
    lines = [
        "| side | variant | seed 0 | seed 1 | seed 2 | mean of last quarters |",
        "| --- | --- | --- | --- | --- | --- |",
    ]
    for side, variants in VARIANTS.items():
        for name in variants:
            runs = {r["seed"]: r for r in rows if r["side"] == side and r["variant"] == name}
            if not runs:
                continue
            cells = [
                f"{runs[s]['first_quarter_mean']:.2f} -> {runs[s]['last_quarter_mean']:.2f}"
                if s in runs
                else ""
                for s in (0, 1, 2)
            ]
            last = sum(r["last_quarter_mean"] for r in runs.values()) / len(runs)
            lines.append(f"| {side.upper()} | {name} | " + " | ".join(cells) + f" | {last:.2f} |")
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--side", choices=sorted(VARIANTS))
    parser.add_argument("--genre-run", type=Path, help="a tiny-profile notebook 01 output folder")
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--only", nargs="+", help="variant names, as in VARIANTS")
    parser.add_argument("--table", action="store_true", help="print the table of what was measured")
    args = parser.parse_args()
    if args.table:
        print(table())
        return
    if not args.side or not args.genre_run or not (args.genre_run / "policy_start").exists():
        parser.error(
            "--side and --genre-run (a notebook 01 output folder with policy_start/) are needed"
        )
    measure(args.side, args.genre_run, args.seeds, args.only)


if __name__ == "__main__":
    main()
