"""Benchmark: batched vs one-at-a-time GSM8K evaluation, same model, same problems, on this machine.

    python benchmarks/eval_batching.py                    # tiny GPT-2 and a random-init GPT-2 124M
    python benchmarks/eval_batching.py --problems 32 --max-new-tokens 64

Random weights never stop early, so both ways generate exactly max_new_tokens per problem.
"""

import argparse
import time

import torch
from transformers import AutoModelForCausalLM, AutoTokenizer, GPT2Config, GPT2LMHeadModel

from helpers import tiny
from helpers.data import load_gsm8k
from helpers.evaluation import answer_questions


def throughput(model, tokenizer, questions, batch_size, max_new_tokens) -> float:
    start = time.perf_counter()
    answer_questions(
        model,
        tokenizer,
        questions,
        batch_size=batch_size,
        max_new_tokens=max_new_tokens,
        progress=False,
    )
    return len(questions) / (time.perf_counter() - start)


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--problems", type=int, default=32)
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--max-new-tokens", type=int, default=48)
    args = parser.parse_args()
    torch.set_num_threads(1)
    torch.manual_seed(0)
    folder = tiny.build("tiny-gpt2")
    tokenizer = AutoTokenizer.from_pretrained(folder)
    models = {
        "tiny-gpt2 (0.2 M)": AutoModelForCausalLM.from_pretrained(folder),
        "GPT-2 124M shape, random": GPT2LMHeadModel(GPT2Config(vocab_size=50257)),
    }
    questions = [r["question"] for r in load_gsm8k("sample", limit=args.problems)]
    print(f"{args.problems} problems, {args.max_new_tokens} new tokens each, 1 CPU thread")
    print(f"{'model':<28}{'1 at a time':>14}{f'batch {args.batch_size}':>14}{'ratio':>8}")
    for name, model in models.items():
        single = throughput(model, tokenizer, questions, 1, args.max_new_tokens)
        batched = throughput(model, tokenizer, questions, args.batch_size, args.max_new_tokens)
        print(f"{name:<28}{single:>10.2f} q/s{batched:>10.2f} q/s{batched / single:>7.1f}x")


if __name__ == "__main__":
    main()
