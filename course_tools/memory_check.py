"""Check ``estimate`` against measured training steps of real-size models with random weights.

    python -m course_tools.memory_check            # every case; a few minutes on a 2-core CPU
    python -m course_tools.memory_check --small    # the quick cases the tests run

Each case builds its architecture from the configs helpers.memory ships (GPT-2, distilgpt2,
Qwen2.5-0.5B, DistilBERT: no download), runs one warm-up step (so the optimizer's states exist,
as in every step but the first), then measures the second with ``PeakMemory``: CUDA's peak
allocation on a GPU, live tensor bytes on a CPU. The step mirrors its trainer's memory pattern:
SFT as ``Trainer`` runs it, PPO as TRL 0.11's ``generate`` + ``step`` (value head, reference,
reward model, log-probabilities and entropy from full logits), GRPO as today's ``GRPOTrainer``
(a group of completions, logits for completion tokens only). Cases with
``gradient_accumulation_steps`` run that many micro-batches' backward passes before one update.
Exits non-zero when any total is more than ``--tolerance`` (15%) off.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass, field

import torch

from helpers.memory.estimate import GB, Step, estimate, known_configs, model_spec
from helpers.memory.measure import PeakMemory, tensor_bytes


@dataclass
class Case:
    name: str
    kind: str
    model: str
    setup: dict  # a memory Step's keyword arguments; the measured step reads the same ones
    config: dict = field(default_factory=dict)  # overrides of the model's config
    trainer: bool = (
        False  # run TRL's own SFTTrainer/GRPOTrainer (today's stack) instead of a plain loop
    )


CASES = [
    Case("SFT gpt2 4x256", "sft", "gpt2", dict(batch_size=4, seq_len=256, attention_dropout=True)),
    Case(
        "SFT gpt2 2x512 checkpointing",
        "sft",
        "gpt2",
        dict(batch_size=2, seq_len=512, gradient_checkpointing=True, attention_dropout=True),
    ),
    Case(
        "SFT distilgpt2 8x128",
        "sft",
        "distilgpt2",
        dict(batch_size=8, seq_len=128, attention_dropout=True),
    ),
    Case(
        "SFT Qwen2.5-0.5B LoRA 2x256",
        "sft",
        "Qwen/Qwen2.5-0.5B-Instruct",
        dict(batch_size=2, seq_len=256, lora_rank=16, lora_targets="all-linear"),
    ),
    Case(
        "PPO gpt2 8 gen / 4 mini, ref + DistilBERT",
        "ppo",
        "gpt2",
        dict(
            batch_size=4,
            generation_batch=8,
            prompt_len=64,
            completion_len=48,
            reference="copy",
            frozen_models=("distilbert-base-uncased",),
            optimizer="adamw",
        ),
        dict(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0),
    ),
    Case(
        "PPO distilgpt2 16 gen / 8 mini, ref",
        "ppo",
        "distilgpt2",
        dict(
            batch_size=8,
            generation_batch=16,
            prompt_len=96,
            completion_len=32,
            reference="copy",
            optimizer="adamw",
        ),
        dict(resid_pdrop=0.0, embd_pdrop=0.0, attn_pdrop=0.0),
    ),
    Case(
        "GRPO Qwen2.5-0.5B 4 completions",
        "grpo",
        "Qwen/Qwen2.5-0.5B-Instruct",
        dict(batch_size=4, generation_batch=4, prompt_len=48, completion_len=32),
    ),
    Case(
        "SFTTrainer gpt2 4x256",
        "sft",
        "gpt2",
        dict(batch_size=4, seq_len=256, attention_dropout=True, logits="chunked"),
        trainer=True,
    ),
    Case(
        "SFTTrainer distilgpt2 3x160",
        "sft",
        "distilgpt2",
        dict(batch_size=3, seq_len=160, attention_dropout=True, logits="chunked"),
        trainer=True,
    ),
    Case(
        "GRPOTrainer Qwen2.5-0.5B 4 completions",
        "grpo",
        "Qwen/Qwen2.5-0.5B-Instruct",
        dict(batch_size=4, generation_batch=4, prompt_len=48, completion_len=32, logits="chunked"),
        trainer=True,
    ),
    Case(
        "GRPOTrainer Qwen2.5-0.5B LoRA 8 completions",
        "grpo",
        "Qwen/Qwen2.5-0.5B-Instruct",
        dict(
            batch_size=8,
            generation_batch=8,
            prompt_len=40,
            completion_len=64,
            lora_rank=16,
            lora_targets="all-linear",
            logits="chunked",
        ),
        trainer=True,
    ),
    Case(
        "GRPO Qwen2.5-0.5B LoRA 8x(64+128) checkpointing",
        "grpo",
        "Qwen/Qwen2.5-0.5B-Instruct",
        dict(
            batch_size=8,
            generation_batch=8,
            prompt_len=64,
            completion_len=128,
            lora_rank=16,
            lora_targets="all-linear",
            gradient_checkpointing=True,
        ),
    ),
    # Accumulation: the second micro-batch's backward runs with every fp32 gradient of the first
    # alive. Few layers keep them quick; the real vocabulary keeps the embedding gradients at full
    # size.
    Case(
        "SFTTrainer gpt2-shaped 2 layers 2x256 accumulation 2",
        "sft",
        "gpt2",
        dict(
            batch_size=2,
            seq_len=256,
            attention_dropout=True,
            logits="chunked",
            gradient_accumulation_steps=2,
        ),
        dict(n_layer=2),
        trainer=True,
    ),
    Case(
        "GRPOTrainer Qwen2.5-shaped 2 layers 2x2 accumulation",
        "grpo",
        "Qwen/Qwen2.5-0.5B-Instruct",
        dict(
            batch_size=2,
            generation_batch=4,
            prompt_len=48,
            completion_len=32,
            logits="chunked",
            gradient_accumulation_steps=2,
        ),
        dict(num_hidden_layers=2),
        trainer=True,
    ),
]
SMALL = [
    Case(
        "SFT gpt2-shaped 2 layers 2x128 (small)",
        "sft",
        "gpt2",
        dict(batch_size=2, seq_len=128, attention_dropout=True),
        dict(n_layer=2),
    )
]
# Untied embeddings: no embedding-sized update temporaries, so the kept gradients decide the peak
# (~20%).
SMALL_ACCUMULATION = [
    Case(
        "SFT gpt2-shaped 2 layers, untied, 2x256 accumulation 2 (small)",
        "sft",
        "gpt2",
        dict(batch_size=2, seq_len=256, attention_dropout=True, gradient_accumulation_steps=2),
        dict(n_layer=2, tie_word_embeddings=False),
    )
]
TINY_TOKENIZERS = {
    "gpt2": "tiny-gpt2",
    "qwen2": "tiny-qwen2-chat",
}  # token ids only; the model has the real vocabulary


def build(model: str, overrides: dict, head: str = "causal-lm"):
    from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

    values = {**known_configs()[model], **overrides}
    config = AutoConfig.for_model(values.pop("model_type"), **values)
    torch.manual_seed(0)
    auto = AutoModelForCausalLM if head == "causal-lm" else AutoModelForSequenceClassification
    return auto.from_config(config), config


def run_case(case: Case, device: str) -> dict:
    """One measured step of a case, next to its estimate."""
    setup = dict(case.setup)
    model, config = build(case.model, case.config)
    if case.trainer:
        return _report(case, device, model_spec(config), *_run_trainer(case, model, config, device))
    spec = model_spec(config)
    model.to(device)
    frozen = [
        build(name, {}, head="classifier")[0].to(device).eval()
        for name in setup.get("frozen_models", ())
    ]
    reference = (
        build(case.model, case.config)[0].to(device).eval()
        if setup.get("reference") == "copy"
        else None
    )
    for module in [reference, *frozen]:
        if module is not None:
            module.requires_grad_(False)
    if setup.get("lora_rank"):
        from peft import get_peft_model

        model = get_peft_model(model, _lora_config(setup))
    if setup.get("gradient_checkpointing"):
        model.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    value_head = torch.nn.Linear(spec.hidden_size, 1).to(device) if case.kind == "ppo" else None
    trainable = [
        p for m in (model, value_head) if m is not None for p in m.parameters() if p.requires_grad
    ]
    fused = setup.get("optimizer", "adamw_fused") == "adamw_fused"
    optimizer = torch.optim.AdamW(trainable, lr=1e-5, fused=fused)
    step = {"sft": _sft_step, "ppo": _ppo_step, "grpo": _grpo_step}[case.kind]
    model.train()
    generator = torch.Generator().manual_seed(0)
    args = (
        model,
        value_head,
        reference,
        frozen,
        optimizer,
        setup,
        spec.vocab_size,
        generator,
        device,
    )
    step(*args)  # warm-up: creates the optimizer states
    start = time.perf_counter()
    with PeakMemory(model, value_head, reference, *frozen, optimizer, device=device) as peak:
        step(*args)
    return _report(
        case,
        device,
        spec,
        peak,
        start,
        tensor_bytes(model, value_head, reference, *frozen),
        tensor_bytes(optimizer),
    )


def _report(
    case: Case, device: str, spec, peak, start: float, weights: int, optimizer: int
) -> dict:
    setup = case.setup
    est = estimate(
        Step(
            case.kind,
            spec,
            device=device,
            **{
                **setup,
                "frozen_models": tuple(model_spec(name) for name in setup.get("frozen_models", ())),
            },
        )
    )
    return {
        "case": case.name,
        "estimate_gb": est.gb,
        "measured_gb": peak.gb,
        "error": est.gb / peak.gb - 1,
        "weights_gb": (weights / GB, est.weights_bytes / GB),
        "optimizer_gb": (optimizer / GB, est.parts["optimizer states"] / GB),
        "phase": est.phase,
        "seconds": time.perf_counter() - start,
    }


def _lora_config(setup: dict):
    if not setup.get("lora_rank"):
        return None
    from peft import LoraConfig

    return LoraConfig(
        r=setup["lora_rank"],
        target_modules=setup["lora_targets"],
        lora_dropout=0.0,
        task_type="CAUSAL_LM",
    )


def _run_trainer(case: Case, model, config, device: str):
    """Two steps of TRL's own trainer on random token ids; the second step is measured."""
    from datasets import Dataset
    from transformers import AutoTokenizer
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    # with transformers above: torch-heavy, imported only by the cases that train
    from helpers.memory.measure import peak_memory_callback
    from helpers.tiny import build as build_tiny

    setup = case.setup
    tokenizer = AutoTokenizer.from_pretrained(build_tiny(TINY_TOKENIZERS[config.model_type]))
    tokenizer.pad_token = tokenizer.pad_token or tokenizer.eos_token
    generator = torch.Generator().manual_seed(0)
    common = dict(
        output_dir="/tmp/memory-validate",
        max_steps=2,
        per_device_train_batch_size=setup["batch_size"],
        report_to="none",
        save_strategy="no",
        use_cpu=device == "cpu",
        bf16=False,
        fp16=False,
        gradient_checkpointing=setup.get("gradient_checkpointing", False),
        seed=0,
        gradient_accumulation_steps=setup.get("gradient_accumulation_steps", 1),
    )
    meter = peak_memory_callback()
    if case.kind == "sft":
        from trl import SFTConfig, SFTTrainer

        rows = 4 * setup["batch_size"] * common["gradient_accumulation_steps"]
        rows = _tokens(generator, tokenizer.vocab_size, rows, setup["seq_len"]).tolist()
        trainer = SFTTrainer(
            model=model,
            args=SFTConfig(max_length=setup["seq_len"], **common),
            train_dataset=Dataset.from_dict({"input_ids": rows}),
            processing_class=tokenizer,
            callbacks=[meter],
        )
    else:
        from trl import GRPOConfig, GRPOTrainer

        words = " ".join(str(n) for n in range(setup["prompt_len"] * 2))
        prompt = tokenizer.decode(tokenizer(words).input_ids[: setup["prompt_len"]])
        args = GRPOConfig(
            num_generations=setup["generation_batch"],
            max_completion_length=setup["completion_len"],
            generation_kwargs={"min_new_tokens": setup["completion_len"]},
            beta=0.0,
            **common,
        )
        trainer = GRPOTrainer(
            model=model,
            reward_funcs=lambda completions, **kw: [float(len(c)) for c in completions],
            args=args,
            train_dataset=Dataset.from_dict({"prompt": [prompt] * 8}),
            processing_class=tokenizer,
            callbacks=[meter],
            peft_config=_lora_config(setup),
        )
    for quiet in (PrinterCallback, ProgressCallback):
        trainer.remove_callback(quiet)
    start = time.perf_counter()
    trainer.train()  # ends with its gradients set to None, so tensor_bytes counts weights only
    return meter.peak, start, tensor_bytes(trainer.model), tensor_bytes(trainer.optimizer.optimizer)


def _tokens(generator, vocab: int, *shape) -> torch.Tensor:
    return torch.randint(0, vocab, shape, generator=generator)


def _sft_step(model, value_head, reference, frozen, optimizer, setup, vocab, generator, device):
    for _ in range(setup.get("gradient_accumulation_steps", 1)):  # each backward adds into .grad
        ids = _tokens(generator, vocab, setup["batch_size"], setup["seq_len"]).to(device)
        model(input_ids=ids, labels=ids).loss.backward()  # Trainer keeps only the loss
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def _generate(model, setup, vocab, generator, device, batch) -> torch.Tensor:
    prompts = _tokens(generator, vocab, batch, setup["prompt_len"]).to(device)
    with torch.no_grad():
        return model.generate(
            input_ids=prompts,
            attention_mask=torch.ones_like(prompts),
            do_sample=True,
            max_new_tokens=setup["completion_len"],
            min_new_tokens=setup["completion_len"],
            pad_token_id=0,
        )


def _ppo_step(model, value_head, reference, frozen, optimizer, setup, vocab, generator, device):
    """TRL 0.11's pattern: generate, score, old log-probs and values, then clipped updates."""
    sequences = _generate(model, setup, vocab, generator, device, setup["generation_batch"])
    with torch.no_grad():
        for scorer in frozen:
            scorer(input_ids=sequences[:, -setup["completion_len"] :] % scorer.config.vocab_size)
    mini = setup["batch_size"]

    def forward(module, ids):
        output = module(input_ids=ids, output_hidden_states=True)
        logits = output.logits[:, :-1]
        logprobs = torch.log_softmax(logits, dim=-1).gather(2, ids[:, 1:, None]).squeeze(2)
        return logits, logprobs, value_head(output.hidden_states[-1]).squeeze(-1)[:, :-1]

    with torch.no_grad():
        old = [forward(model, sequences[i : i + mini])[1:] for i in range(0, len(sequences), mini)]
        if reference is not None:
            for i in range(0, len(sequences), mini):
                forward(reference, sequences[i : i + mini])
    for index, i in enumerate(range(0, len(sequences), mini)):
        logits, logprobs, values = forward(model, sequences[i : i + mini])
        entropy = torch.logsumexp(logits, dim=-1) - (torch.softmax(logits, dim=-1) * logits).sum(-1)
        ratio = torch.exp(logprobs - old[index][0])
        advantages = torch.randn(ratio.shape, generator=generator).to(device)
        loss = -torch.min(ratio * advantages, ratio.clamp(0.8, 1.2) * advantages).mean()
        loss = (
            loss + 0.1 * ((values - old[index][1]) ** 2).mean()
        )  # entropy: logged only, as in TRL 0.11
        loss.backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        del logits, logprobs, values, entropy, loss


def _grpo_step(model, value_head, reference, frozen, optimizer, setup, vocab, generator, device):
    """Today's GRPOTrainer pattern: a group of completions, logits for completion tokens only."""
    sequences = _generate(model, setup, vocab, generator, device, setup["generation_batch"])
    completion = setup["completion_len"]
    batch = setup["batch_size"]
    for i in range(0, len(sequences), batch):
        ids = sequences[i : i + batch]
        logits = model(input_ids=ids, logits_to_keep=completion + 1).logits[:, :-1] / 1.0
        targets = ids[:, -completion:]
        logprobs = torch.stack(
            [
                row.log_softmax(-1).gather(1, t[:, None]).squeeze(1)
                for row, t in zip(logits, targets)
            ]
        )
        advantages = torch.randn(len(ids), 1, generator=generator).to(device)
        (-(torch.exp(logprobs - logprobs.detach()) * advantages).mean()).backward()
        optimizer.step()
        optimizer.zero_grad(set_to_none=True)
        del logits, logprobs


def validate(cases: list[Case], tolerance: float = 0.15, device: str | None = None) -> list[dict]:
    device = device or ("cuda" if torch.cuda.is_available() else "cpu")
    print(
        f"Estimate vs measured peak of one training step, on {device} "
        f"({'CUDA peak allocated' if device == 'cuda' else 'live tensor bytes'}); "
        f"tolerance {tolerance:.0%}"
    )
    header = (
        f"{'case':<44}{'phase':>10}{'weights est/meas':>19}{'optimizer est/meas':>21}"
        f"{'total est':>11}{'measured':>10}{'error':>8}{'s':>6}"
    )
    print(header)
    rows = []
    for case in cases:
        row = run_case(case, device)
        rows.append(row)
        (w_meas, w_est), (o_meas, o_est) = row["weights_gb"], row["optimizer_gb"]
        flag = "" if abs(row["error"]) <= tolerance else "  <-- off"
        print(
            f"{case.name:<44}{row['phase']:>10}"
            f"{w_est:>9.3f}/{w_meas:<9.3f}{o_est:>10.3f}/{o_meas:<10.3f}"
            f"{row['estimate_gb']:>11.3f}{row['measured_gb']:>10.3f}"
            f"{row['error']:>+8.1%}{row['seconds']:>6.0f}{flag}",
            flush=True,
        )
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m course_tools.memory_check",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--small", action="store_true", help="only the quick cases (seconds)")
    parser.add_argument("--case", default="", help="only the cases whose name contains this text")
    parser.add_argument("--tolerance", type=float, default=0.15)
    parser.add_argument("--device", choices=["cpu", "cuda"], default=None)
    args = parser.parse_args(argv)
    cases = [
        case
        for case in (SMALL + SMALL_ACCUMULATION if args.small else CASES)
        if args.case.lower() in case.name.lower()
    ]
    if not cases:
        parser.error(
            f"no case name contains {args.case!r}; the cases: {', '.join(c.name for c in CASES)}"
        )
    rows = validate(cases, args.tolerance, args.device)
    off = [row["case"] for row in rows if abs(row["error"]) > args.tolerance]
    if off:
        print(
            f"FAILED: {len(off)} estimate(s) more than {args.tolerance:.0%} off: {', '.join(off)}"
        )
        return 1
    print(f"OK: all {len(rows)} estimates within {args.tolerance:.0%} of the measured peak.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
