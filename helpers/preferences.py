"""Preference pairs, the Bradley-Terry reward model's checks, and the measures of notebook 06.

    rows, ties = simulated_preferences(
        prompts, first, second, gold_first, gold_second, noise=0.1, tie_margin=0.05
    )
    pairs, dropped = clean_pairs(rows)  # identical, empty or incomplete pairs out, counted
    train, test = split_pairs(pairs, held_out=0.2, seed=0)
    batch = sample(policy, tokenizer, prompts, max_new_tokens=14)   # texts, and the ids KL needs
    kl_per_text(policy, reference, batch)         # sum over a text's tokens of log pi - log pi_ref

A "gold" scorer stands in for the people who label: it is what a preference is *really* about, and
what the proxy (the reward model learned from a few noisy comparisons) can only approximate. Gao et
al. (2022, "Scaling Laws for Reward Model Overoptimization") used the same set-up.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass

from helpers.rewards import completion_text, finite_scores

COLUMNS = ("prompt", "chosen", "rejected")
MIN_PAIRS = 20  # below this a held-out split says nothing (a 95% interval wider than +-20 points)
MIN_HELD_OUT = 10


class PreferenceDataError(ValueError):
    """A preference set that cannot be used, with what to do instead."""


def simulated_preferences(
    prompts: list[str],
    first: list[str],
    second: list[str],
    gold_first: list[float],
    gold_second: list[float],
    noise: float,
    tie_margin: float = 0.0,
    seed: int = 0,
) -> tuple[list[dict], int]:
    """One comparison per prompt, labelled by a simulated annotator: it calls two completions whose
    gold scores differ by less than `tie_margin` a tie (dropped, as preference datasets drop ties),
    otherwise prefers the one with the higher gold score, and with probability `noise` (a careless
    click) the other one.

    Returns the rows and the number of ties. Rows have ``prompt``, ``chosen``, ``rejected`` (TRL's
    preference format), ``gold_margin`` (gold of chosen minus rejected: negative where the annotator
    erred) and ``flipped``."""
    if not 0 <= noise < 0.5:
        raise PreferenceDataError(
            f"noise is the share of flipped labels, in [0, 0.5), not {noise!r}: at 0.5 the "
            f"labels are coin flips and there is nothing to learn."
        )
    if not len(prompts) == len(first) == len(second) == len(gold_first) == len(gold_second):
        raise PreferenceDataError(
            "prompts, both completions and both gold scores must be lists of one length."
        )
    rng = random.Random(seed)
    rows, ties = [], 0
    for prompt, a, b, gold_a, gold_b in zip(prompts, first, second, gold_first, gold_second):
        if abs(gold_a - gold_b) < tie_margin:
            ties += 1
            continue
        flipped = rng.random() < noise
        a_wins = (gold_a >= gold_b) != flipped
        chosen, rejected = (a, b) if a_wins else (b, a)
        margin = (gold_a - gold_b) if a_wins else (gold_b - gold_a)
        rows.append(
            {
                "prompt": prompt,
                "chosen": chosen,
                "rejected": rejected,
                "gold_margin": margin,
                "flipped": flipped,
            }
        )
    return rows, ties


def clean_pairs(rows: list[dict]) -> tuple[list[dict], dict]:
    """The usable pairs, and how many were dropped for each reason (never silently).

    A pair is dropped when a column is missing or not text, a completion is empty (or only spaces),
    or chosen and rejected are the same text: such a pair teaches a reward model nothing, and the
    Bradley-Terry loss of two equal rewards is log 2 whatever the model does."""
    kept, dropped = [], {"missing column": 0, "empty text": 0, "identical chosen and rejected": 0}
    for row in rows:
        if not all(isinstance(row.get(column), str) for column in COLUMNS):
            dropped["missing column"] += 1
        elif not row["chosen"].strip() or not row["rejected"].strip():
            dropped["empty text"] += 1
        elif row["chosen"].strip() == row["rejected"].strip():
            dropped["identical chosen and rejected"] += 1
        else:
            kept.append(row)
    if any(dropped.values()):
        print(
            f"Dropped {sum(dropped.values())} of {len(rows)} pairs: "
            + ", ".join(f"{count} {reason}" for reason, count in dropped.items() if count)
            + "."
        )
    return kept, dropped


def split_pairs(rows: list[dict], held_out: float, seed: int = 0) -> tuple[list[dict], list[dict]]:
    """Shuffle and split into (train, held-out); a set too small to split is an error that names the
    minimum."""
    if not 0 < held_out < 1:
        raise PreferenceDataError(f"held_out is a fraction in (0, 1), not {held_out!r}.")
    test_size = round(len(rows) * held_out)
    if len(rows) < MIN_PAIRS or test_size < MIN_HELD_OUT or len(rows) - test_size < MIN_HELD_OUT:
        raise PreferenceDataError(
            f"{len(rows)} usable preference pairs are too few to split into training and "
            "held-out pairs: at least "
            f"{max(MIN_PAIRS, math.ceil(MIN_HELD_OUT / min(held_out, 1 - held_out)))} are "
            f"needed (with held_out={held_out}, {MIN_HELD_OUT} or more on each side). "
            "Collect more pairs (raise pairs in the parameters) or check how many "
            "clean_pairs dropped."
        )
    shuffled = rows[:]
    random.Random(seed).shuffle(shuffled)
    return shuffled[test_size:], shuffled[:test_size]


def sigmoid(x: float) -> float:
    return 1 / (1 + math.exp(-x)) if x >= 0 else math.exp(x) / (1 + math.exp(x))


def calibration(probabilities: list[float], outcomes: list[bool], bins: int = 5) -> list[dict]:
    """Predicted probability that "chosen" wins against how often it did, in equal-width bins of the
    prediction."""
    table = []
    for index in range(bins):
        low, high = index / bins, (index + 1) / bins
        inside = [
            (p, o)
            for p, o in zip(probabilities, outcomes)
            if low <= p < high or (index == bins - 1 and p == 1)
        ]
        if inside:
            table.append(
                {
                    "bin": f"{low:.1f}-{high:.1f}",
                    "predicted": sum(p for p, _ in inside) / len(inside),
                    "observed": sum(o for _, o in inside) / len(inside),
                    "pairs": len(inside),
                }
            )
    return table


def win_rate(scores: list[float], baseline: list[float]) -> dict:
    """How often `scores` beat `baseline`, pair by pair (ties count half), with a 95% Wilson
    interval."""
    from helpers.evaluation import wilson_interval  # imports torch: only when called

    if len(scores) != len(baseline) or not scores:
        raise ValueError("win_rate compares two non-empty lists of one length.")
    wins = sum(1.0 if s > b else 0.5 if s == b else 0.0 for s, b in zip(scores, baseline))
    low, high = wilson_interval(round(wins), len(scores))
    return {
        "win_rate": round(wins / len(scores), 4),
        "ci95": [round(low, 4), round(high, 4)],
        "n": len(scores),
    }


@dataclass
class Samples:
    """Sampled completions with the token ids that score them again: prompt ids left-padded,
    completion ids with a mask that ends after the first end-of-text."""

    prompts: list
    completions: list
    prompt_ids: object
    prompt_mask: object
    completion_ids: object
    completion_mask: object

    @property
    def texts(self) -> list[str]:
        return [p + c for p, c in zip(self.prompts, self.completions)]


def sample(
    model,
    tokenizer,
    prompts: list[str],
    max_new_tokens: int,
    batch_size: int = 32,
    seed: int = 0,
    progress: str | None = None,
) -> Samples:
    """One sampled completion per prompt (temperature 1, no top-k: the policy's own distribution);
    with `progress`, a progress bar of that name."""
    import torch
    from tqdm.auto import tqdm

    tokenizer.padding_side = "left"
    device = next(model.parameters()).device
    parts = []
    was_training = model.training
    model.eval()
    with (
        torch.no_grad(),
        torch.random.fork_rng(devices=[device.index or 0] if device.type == "cuda" else []),
    ):
        torch.manual_seed(seed)
        for start in tqdm(
            range(0, len(prompts), batch_size), desc=progress, disable=progress is None
        ):
            batch = tokenizer(
                prompts[start : start + batch_size], return_tensors="pt", padding=True
            ).to(device)
            output = model.generate(
                **batch,
                do_sample=True,
                top_k=0,
                temperature=1.0,
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id,
            )
            parts.append(
                (
                    batch["input_ids"].cpu(),
                    batch["attention_mask"].cpu(),
                    output[:, batch["input_ids"].shape[1] :].cpu(),
                )
            )
    model.train(was_training)
    width = max(p.shape[1] for p, _, _ in parts)

    def left_pad(tensor, value):
        return torch.nn.functional.pad(tensor, (width - tensor.shape[1], 0), value=value)

    prompt_ids = torch.cat([left_pad(p, tokenizer.pad_token_id) for p, _, _ in parts])
    prompt_mask = torch.cat([left_pad(m, 0) for _, m, _ in parts])
    completion_ids = torch.cat(
        [
            torch.nn.functional.pad(
                c, (0, max_new_tokens - c.shape[1]), value=tokenizer.pad_token_id
            )
            for _, _, c in parts
        ]
    )
    ended = (completion_ids == tokenizer.eos_token_id).int()
    completion_mask = (
        ended.cumsum(dim=1) - ended == 0
    ).int()  # up to and including the first end-of-text
    completions = tokenizer.batch_decode(
        completion_ids * completion_mask + tokenizer.pad_token_id * (1 - completion_mask),
        skip_special_tokens=True,
    )
    return Samples(
        list(prompts), completions, prompt_ids, prompt_mask, completion_ids, completion_mask
    )


def kl_per_text(policy, reference, samples: Samples, batch_size: int = 32) -> list[float]:
    """KL from the reference of each sampled text: the sum over its tokens of log pi - log pi_ref
    ("k1", the unit of notebooks 01 and 05), whose mean over the policy's own samples estimates
    KL(pi || pi_ref)."""
    from helpers.by_hand import completion_logps  # imports torch: only when called

    values = []
    for start in range(0, len(samples.prompts), batch_size):
        chunk = slice(start, start + batch_size)
        args = (
            samples.prompt_ids[chunk],
            samples.prompt_mask[chunk],
            samples.completion_ids[chunk],
            samples.completion_mask[chunk],
        )
        difference = (
            completion_logps(policy, *args) - completion_logps(reference, *args)
        ) * samples.completion_mask[chunk]
        values += difference.sum(dim=1).tolist()
    return values


def make_reward_model_scorer(reward_model, tokenizer, batch_size: int = 32, max_length: int = 256):
    """The learned reward of each text, scored as RewardTrainer trained it: the text plus
    end-of-text."""

    def learned_reward(texts, **kwargs) -> list[float]:
        import torch

        texts = [completion_text(t) + tokenizer.eos_token for t in texts]
        tokenizer.padding_side = "right"
        scores = []
        with torch.no_grad():
            for start in range(0, len(texts), batch_size):
                batch = tokenizer(
                    texts[start : start + batch_size],
                    return_tensors="pt",
                    padding=True,
                    truncation=True,
                    max_length=max_length,
                ).to(reward_model.device)
                scores += reward_model(**batch).logits[:, 0].float().tolist()
        return finite_scores(scores)

    return learned_reward


def turn_of_gold(points: list[dict], fall: float = 0.05) -> dict:
    """Where, along one run's checkpoints (each with ``kl``, ``proxy``, ``gold``), the gold reward
    peaked, and how far gold fell and proxy rose after that peak. ``turned``: over-optimisation,
    gold fell by more than `fall` after its peak while the proxy rose."""
    if not points:
        raise ValueError("No checkpoints to read.")
    peak = max(range(len(points)), key=lambda i: points[i]["gold"])
    last = points[-1]
    fell, rose = (
        round(points[peak]["gold"] - last["gold"], 4),
        round(last["proxy"] - points[peak]["proxy"], 4),
    )
    return {
        "peak_checkpoint": peak,
        "checkpoints": len(points),
        "kl_at_peak": points[peak]["kl"],
        "gold_at_peak": points[peak]["gold"],
        "gold_fell_after_peak": fell,
        "proxy_rose_after_peak": rose,
        "turned": fell > fall and rose > 0,
    }
