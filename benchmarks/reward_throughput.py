"""Benchmark: completions per second through all of notebook 04's reward functions together.

python benchmarks/reward_throughput.py            # 10,000 completions
"""

import argparse
import random
import time

from helpers.rewards import HEURISTIC_REWARDS


def completions(count: int, seed: int = 0) -> tuple[list, list[str]]:
    """A realistic mix: well-formatted, sloppy, rambling, chat messages, and junk."""
    rng = random.Random(seed)
    texts, answers = [], []
    for _ in range(count):
        a, b = rng.randint(1, 999), rng.randint(1, 999)
        good = (
            f"<reasoning>\nShe has {a} + {b} = {a + b} "
            f"apples.\n</reasoning>\n<answer>\n{a + b}\n</answer>"
        )
        texts.append(
            rng.choice(
                [
                    good,
                    good + "\nI hope this helps!" * rng.randint(1, 5),
                    f"The answer is {a + b}.",
                    [{"role": "assistant", "content": good}],
                    "<reasoning>" + "word " * rng.randint(10, 200),
                    None,
                ]
            )
        )
        answers.append(f"{a} + {b} = {a + b}\n#### {a + b}")
    return texts, answers


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=10_000)
    args = parser.parse_args()
    texts, answers = completions(args.count)
    start = time.perf_counter()
    for function in HEURISTIC_REWARDS:
        function(texts, answer=answers)
    seconds = time.perf_counter() - start
    print(
        f"{args.count} completions through {len(HEURISTIC_REWARDS)} reward functions: "
        f"{seconds:.2f} s, {args.count / seconds:,.0f} completions/s"
    )


if __name__ == "__main__":
    main()
