"""How long a notebook's training and evaluation take on a GPU class: an estimate from the settings.

    minutes("grpo", get_profile("t4-16gb").notebook("grpo"), "T4")   # -> TimeEstimate(total_minutes, parts)

Not a measurement: each training notebook prints it before training and its measured seconds per
step after, so the two can be compared on your card. Two costs dominate RLHF notebooks:

- **generation** with transformers' ``generate``: one decoding step per new token for the whole
  batch. A step costs the larger of reading every weight once (weight bytes / memory bandwidth)
  and eager PyTorch's fixed cost per decoder layer (kernel launches, Python), which is what
  limits models this small;
- **training**: about 6 x parameters x tokens floating-point operations for a forward and
  backward pass (8 x with gradient checkpointing, which runs the forward twice; 4 x plus the
  recomputation when the base weights are frozen under LoRA), at a fraction
  ``COMPUTE_EFFICIENCY`` of the card's peak.

The constants are published figures (sources next to them) and stated assumptions; where a run
of yours disagrees, the measured seconds per step win.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

# Peak dense 16-bit tensor throughput (TFLOPS) and memory bandwidth (GB/s), from NVIDIA's data
# sheets: Tesla T4 (65 FP16 TFLOPS, 320 GB/s), GeForce RTX 2080 Ti (Turing whitepaper: 56.9 FP16
# TFLOPS with FP32 accumulate, 616 GB/s), A100 40 GB (312 BF16 TFLOPS, 1,555 GB/s).
GPUS = {
    "T4": dict(tflops=65.0, bandwidth_gb_s=320.0),
    "RTX 2080 Ti": dict(tflops=56.9, bandwidth_gb_s=616.0),
    "A100": dict(tflops=312.0, bandwidth_gb_s=1555.0),
}
# The cpu profile's machine: 2 cores of the course's CI machine, fp32, measured with benchmarks/cpu_speed.py
# (two runs: matmul 0.17-0.19 TFLOPS, copy 5.6-8 GB/s, SmolLM2-135M decoding 4.65 ms per layer at batch 16,
# a forward and backward pass of 16 x 200 tokens at 0.68-0.79 of the matmul rate). More cores: faster.
GPUS["CPU"] = dict(tflops=0.18, bandwidth_gb_s=7.0, efficiency=0.7, decode_ms_per_layer=4.7)
PROFILE_GPUS = {"t4-16gb": "T4", "rtx2080ti-11gb": "RTX 2080 Ti", "a100-40gb": "A100", "cpu": "CPU"}
# Assumption: small models in eager PyTorch reach ~30% of peak in training (model FLOPs
# utilisation); large, well-batched runs reach 40-50%, tiny batches less.
COMPUTE_EFFICIENCY = 0.3
# Fixed cost of one decoding step per decoder layer in transformers' eager generate (ms). Qwen2.5-1.5B
# and -7B (28 layers each) both decode at ~66-68 tokens/s at batch 1 in transformers, ~15 ms a token
# whatever their size (community.deeplearning.ai/t/gpu-overhead-in/892275): ~0.53 ms per layer. We
# round up to 0.6 for Colab's slower host CPU.
DECODE_MS_PER_LAYER = 0.6
# Per-step costs outside the model (rewards, logging, the optimizer step): an assumption.
STEP_OVERHEAD_S = 0.3


@dataclass
class TimeEstimate:
    section: str
    gpu: str
    parts: dict  # what -> seconds
    steps: int

    @property
    def total_minutes(self) -> float:
        return sum(self.parts.values()) / 60

    @property
    def seconds_per_step(self) -> float:
        return self.parts.get("training", 0.0) / max(1, self.steps)

    def __str__(self) -> str:
        listed = ", ".join(f"{name} ~{seconds / 60:.1f} min" for name, seconds in self.parts.items())
        return (f"Estimated time on one {self.gpu}: ~{self.total_minutes:.0f} min ({listed}; "
                f"~{self.seconds_per_step:.1f} s per training step). An estimate from the settings, not a measurement.")


def _decode_seconds(spec, gpu: dict, steps: int, bytes_per_weight: float, batch: int = 16) -> float:
    """Seconds for `steps` decoding steps of one generate call of `batch` sequences: the largest of
    reading the weights, the fixed cost per layer, and the arithmetic (2 x parameters per token,
    which only a CPU notices)."""
    read_weights = spec.parameters * bytes_per_weight / (gpu["bandwidth_gb_s"] * 1e9)
    fixed = spec.num_layers * gpu.get("decode_ms_per_layer", DECODE_MS_PER_LAYER) / 1000
    arithmetic = 2 * spec.parameters * batch / (gpu["tflops"] * 1e12 * gpu.get("efficiency", COMPUTE_EFFICIENCY))
    return steps * max(read_weights, fixed, arithmetic)


def _train_seconds(spec, gpu: dict, tokens: float, lora: bool = False, checkpointing: bool = False) -> float:
    flops_per_token_per_weight = (4 if lora else 6) + (2 if checkpointing else 0)
    return flops_per_token_per_weight * spec.parameters * tokens / (gpu["tflops"] * 1e12 * gpu.get("efficiency", COMPUTE_EFFICIENCY))


def _evaluation_seconds(spec, gpu, problems: int, new_tokens: int, bytes_per_weight: float, batch: int = 16,
                        runs: int = 2) -> float:
    """evaluate_gsm8k `runs` times (before and after training): greedy, 16 problems per generate call."""
    return runs * -(-problems // batch) * _decode_seconds(spec, gpu, new_tokens, bytes_per_weight)


def _rl_seconds(spec, card: dict, s, steps: int, completions: int, prompt: int, completion_len: int,
                lora: bool = False) -> float:
    """GRPO/RLOO: each generation batch is sampled once, then trained on in updates of `completions` texts."""
    generation_batch = getattr(s, "generation_batch_size", completions)
    updates_per_generation = generation_batch // completions * getattr(s, "num_iterations", 1)
    generate = _decode_seconds(spec, card, completion_len, 2 if lora else 4, generation_batch) / updates_per_generation
    train = _train_seconds(spec, card, completions * (prompt + completion_len), lora, getattr(s, "gradient_checkpointing", False))
    return steps * (generate + train + STEP_OVERHEAD_S / updates_per_generation)


def minutes(section: str, settings: SimpleNamespace, gpu: str = "T4", prompt_len: int | None = None) -> TimeEstimate:
    """The time a notebook's training (and GSM8K evaluation) takes on `gpu`, from its profile settings."""
    from helpers.memory.estimate import model_spec as spec_for
    from helpers.memory.fit import PROMPT_TOKENS

    if gpu not in GPUS:
        raise ValueError(f"Unknown GPU {gpu!r}; estimates exist for {sorted(GPUS)}.")
    card, s = GPUS[gpu], settings
    prompt = prompt_len or PROMPT_TOKENS.get(section, 100)
    parts, steps = {}, 0
    if section == "sft":
        spec = spec_for(s.model_id)
        tokens = s.train_size * s.epochs * min(s.max_length, 250)  # a GSM8K prompt + solution: ~250 GPT-2 tokens
        steps = -(-s.train_size // (s.batch_size * s.gradient_accumulation_steps)) * s.epochs
        parts["training"] = _train_seconds(spec, card, tokens, checkpointing=s.gradient_checkpointing)
        parts["evaluation"] = _evaluation_seconds(spec, card, s.eval_size, s.eval_max_new_tokens, 2)
    elif section in ("genre_ppo", "ppo_sft"):  # TRL 0.11 generates each batch in chunks (01: 4 prompts, 03: a
        # mini-batch), then runs ppo_epochs=4
        spec = spec_for("gpt2" if s.policy_model == "sft_checkpoint" else s.policy_model)
        chunk = 4 if section == "genre_ppo" else s.mini_batch_size
        steps = s.ppo_steps
        generate = -(-s.batch_size // chunk) * _decode_seconds(spec, card, s.max_new_tokens, 4, chunk)
        train = _train_seconds(spec, card, 4 * s.batch_size * (prompt + s.max_new_tokens))
        parts["training"] = steps * (generate + train + STEP_OVERHEAD_S)
        if section == "genre_ppo":  # the classifier: ~5 examples of ~64 tokens per text and epoch
            classifier = spec_for(s.classifier_model)
            parts["classifier"] = _train_seconds(classifier, card, 5 * 4 * s.texts_per_genre * s.classifier_epochs * 64)
        if section == "ppo_sft":  # the similarity-only contrast: the same training again, one more evaluation
            parts["contrast"] = parts["training"]
            parts["evaluation"] = 1.5 * _evaluation_seconds(spec, card, s.eval_size, s.eval_max_new_tokens, 4)
    elif section in ("grpo", "genre_rloo"):  # one generation batch, then its gradient updates
        spec = spec_for(s.model_id if section == "grpo" else s.policy_model)
        lora = getattr(s, "lora", False) or getattr(s, "load_in_4bit", False)
        completions = s.per_device_train_batch_size * getattr(s, "gradient_accumulation_steps", 1)  # per update
        steps = s.max_steps
        parts["training"] = _rl_seconds(spec, card, s, steps, completions, prompt, s.max_completion_length, lora)
        if section == "grpo":
            parts["evaluation"] = _evaluation_seconds(spec, card, s.eval_size, s.max_completion_length, 2 if lora else 4,
                                                      runs=3 if s.warm_start_examples else 2)  # + the untuned model
            if s.warm_start_examples:  # the format warm start: one SFT pass
                parts["warm start"] = _train_seconds(spec, card, s.warm_start_examples * s.warm_start_epochs * 250)
    elif section == "preferences":  # notebook 06: pairs, reward model, DPO, RLOO and the sweep, measured along the way
        spec, classifier = spec_for(s.policy_model), spec_for(s.classifier_model)
        length = prompt + s.max_new_tokens
        train_pairs = s.pairs * (1 - s.held_out)  # at most: ties are dropped
        steps = s.rl_steps
        parts["preference pairs"] = (-(-2 * s.pairs // 32) * _decode_seconds(spec, card, s.max_new_tokens, 4, 32)
                                     + _train_seconds(classifier, card, 2 * s.pairs * length) / 3)  # a forward pass: 1/3
        parts["reward model"] = _train_seconds(spec, card, s.reward_epochs * train_pairs * 2 * length)
        parts["DPO"] = _train_seconds(spec, card, s.dpo_epochs * train_pairs * 2 * length) * 4 / 3  # + the reference
        parts["training"] = _rl_seconds(spec, card, s, steps, s.per_device_train_batch_size, prompt, s.max_new_tokens)
        parts["over-optimisation sweep"] = len(s.sweep_betas) * _rl_seconds(
            spec, card, s, s.sweep_steps, s.per_device_train_batch_size, prompt, s.max_new_tokens)
        runs = 1 + len(s.sweep_betas)  # each measured at its checkpoints, plus the reference and DPO
        parts["measurements"] = (runs * s.checkpoints + 2) * -(-s.eval_prompts // 32) * 2 * _decode_seconds(
            spec, card, s.max_new_tokens, 4, 32)
    else:
        raise ValueError(f"No time estimate for section {section!r}.")
    return TimeEstimate(section, gpu, {k: round(v, 1) for k, v in parts.items()}, steps)
