"""How long a notebook's training and evaluation take on a GPU class: a range from the settings.

    minutes("grpo", get_profile("t4-16gb").notebook("grpo"), "T4")  # TimeEstimate: low, high, parts

Not a measurement: each training notebook prints it before training and its measured seconds per
step after, so the two can be compared on your card. Every GPU time is a range, ``low-high``: the
low end takes the optimistic constant of each pair below (a fast host CPU, host and GPU working at
once), the **high end** the pessimistic one (Colab's slow host, no overlap); plan a session around
the high end. The cpu profile's machine is measured (``GPUS["CPU"]``): one figure, not a range. What
the estimate counts:

- **generation** with transformers' ``generate``: one decoding step per new token for the whole
  batch. A step costs the host's fixed cost per decoder layer (eager PyTorch launches ~40 kernels a
  layer, and ``generate`` waits for the GPU every token), plus, for a LoRA model that TRL does not
  merge for generation (TRL 1.16 ``trl/models/utils.py`` only unwraps it), a share of a layer per
  adapted linear; and the GPU reading every weight once (fp32 weights under 16-bit autocast are cast
  anew each step: 8 bytes a weight; 4-bit weights are dequantised, 4.5 bytes a weight);
- **training**: about 6 x parameters x tokens floating-point operations for a forward and backward
  pass (8 x with gradient checkpointing, which runs the forward twice; 4 x plus the recomputation
  when the base weights are frozen under LoRA; 2 x for a forward pass alone), at a fraction of the
  card's peak for the precision that runs: 16-bit tensor cores under fp16/bf16 mixed precision, the
  fp32 rate for TRL 0.11's PPO (notebooks 01 and 03 use no mixed precision) and for bf16 on a card
  without native bf16 (T4, RTX 2080 Ti); never less than the kernel launches of its layers;
- **the optimizer step**, which small updates repeat thousands of times (05, 06): AdamW reads and
  writes its fp32 state for every trainable parameter, plus a cost per parameter tensor and per
  step;
- a fixed cost per RL step outside the model (rewards, tokenising, TRL's bookkeeping).

The constants come from published measurements, with their setups written next to them, and
``anchors()`` prices two published T4 GRPO runs with these very formulas: the high end reproduces
the slower (TRL's own QLoRA notebook, 94.5 s a step) and the faster (Unsloth's, ~24 s) within 10%.
Where a run of yours disagrees, the measured seconds per step win.
"""

from __future__ import annotations

from dataclasses import dataclass
from types import SimpleNamespace

from helpers.lessons import COURSE, PROMPT_TOKENS, LessonError, lesson_for
from helpers.memory.estimate import ModelSpec, model_spec

# Peak dense throughput (TFLOPS) and memory bandwidth (GB/s) from NVIDIA's data sheets: Tesla T4 (65
# FP16 tensor TFLOPS, 8.1 FP32, 320 GB/s, no native bf16), GeForce RTX 2080 Ti (Turing whitepaper:
# 56.9 FP16 tensor TFLOPS with FP32 accumulate, 13.4 FP32, 616 GB/s, no native bf16), A100 40 GB
# (312 BF16/FP16 tensor TFLOPS, 19.5 FP32: PyTorch leaves TF32's 156 off for matrix products by
# default, 1,555 GB/s). decode_ms_per_layer: the host's fixed cost of one decoding step per decoder
# layer, (low, high):
# - 0.5: a desktop's host. hongping-zh's LLM energy benchmark (2026, transformers, batch 1,
#   RTX 5090): Qwen2-1.5B FP16 71.45 tokens/s (28 layers) = 0.50 ms, TinyLlama-1.1B 94.87 tokens/s
#   (22) = 0.48 ms.
# - 0.9: a data-centre host. Qwen2.5's speed benchmark (qwen.readthedocs.io, A100 80 GB,
#   transformers 4.46, flash-attention 2, batch 1): Qwen2.5-0.5B-Instruct BF16 47.40 tokens/s (24
#   layers) = 0.88 ms, Qwen2.5-1.5B-Instruct 39.68 tokens/s (28 layers) = 0.90 ms. (The old 0.6
#   came from faster machines.)
# - 1.5: a T4 host. The same energy benchmark on a Tesla T4: Qwen2.5-3B FP16 at batch 1, 2 and 4
#   costs 2.84, 1.40 and 0.73 J a token, so a step costs the same at every batch (the host's fixed
#   cost): ~55 ms a step at the T4's ~52 W (its TinyLlama run) / 36 layers = 1.5 ms. Its earlier T4
#   run gave 3.7 ms (TinyLlama-1.1B 12.34, Qwen2-1.5B 9.56 tokens/s); the TRL anchor below rules
#   that out on Colab.
# One figure for every decoder layer: GPT-2's launches fewer kernels than Qwen2's, so its times err
# long.
GPUS = {
    "T4": dict(
        tflops=65.0,
        tflops_fp32=8.1,
        bandwidth_gb_s=320.0,
        native_bf16=False,
        decode_ms_per_layer=(0.9, 1.5),
    ),
    "RTX 2080 Ti": dict(
        tflops=56.9,
        tflops_fp32=13.4,
        bandwidth_gb_s=616.0,
        native_bf16=False,
        decode_ms_per_layer=(0.5, 0.9),
    ),
    "A100": dict(
        tflops=312.0,
        tflops_fp32=19.5,
        bandwidth_gb_s=1555.0,
        native_bf16=True,
        decode_ms_per_layer=(0.5, 0.9),
    ),
}
# The cpu profile's machine: 2 cores of the course's CI machine, fp32, measured with
# benchmarks/cpu_speed.py (two runs: matmul 0.17-0.19 TFLOPS, copy 5.6-8 GB/s, SmolLM2-135M decoding
# 4.65 ms per layer at batch 16, a forward and backward pass of 16 x 200 tokens at 0.68-0.79 of the
# matmul rate). More cores: faster. Measured, so one figure: it takes the low end of the generic
# constants below.
GPUS["CPU"] = dict(
    tflops=0.18,
    tflops_fp32=0.18,
    bandwidth_gb_s=7.0,
    efficiency=0.7,
    decode_ms_per_layer=4.7,
    bandwidth_efficiency=1.0,
    measured=True,
)
# A card not in the table: the span of the published figures above.
DECODE_MS_PER_LAYER = (0.5, 1.5)
PROFILE_GPUS = {"t4-16gb": "T4", "rtx2080ti-11gb": "RTX 2080 Ti", "a100-40gb": "A100", "cpu": "CPU"}

# The constants below are (low end, high end) pairs. Share of the 16-bit tensor peak that training
# reaches. High end 0.10: Unsloth's T4 anchor below, its vLLM generation priced as reading the
# dequantised weights (~12 s), leaves ~11 s of its 24 s step for ~6.3e13 FLOPs of training (~9%).
# Low end 0.20: a T4 throttles its clock on compute-bound work at 70 W (Jia et al. 2019, below), and
# models of 768-896 hidden units with a 50-152k vocabulary in fp32 log-softmax keep the tensor cores
# idle much of the time (the old 0.3 was an optimistic assumption).
COMPUTE_EFFICIENCY = (0.2, 0.1)
# Share of the fp32 peak (no tensor cores: large fp32 matrix products run near peak). High end 0.5:
# with it the TRL anchor's training (bf16 autocast, at the T4's fp32 rate, ~38 s) and decoding (~60
# s) come within 6% of its measured step.
FP32_EFFICIENCY = (0.7, 0.5)
# Memory bandwidth a kernel really gets: ~220 of the T4's 320 GB/s, the global-memory figure of Jia
# et al. (2019), "Dissecting the NVidia Turing T4 GPU via microbenchmarking" (arXiv:1903.07486), as
# quoted here; assumed for the other cards. benchmarks/gpu_check.py measures it.
BANDWIDTH_EFFICIENCY = 0.69
# One unmerged LoRA linear, as a share of a decoder layer's fixed decoding cost (peft's forward adds
# a cast, dropout, two small matrix products, a scale and an add). Generation with the adapter
# unmerged is reported 1.5x slower than merged (peft issue 957) and 2x (peft issue 303): 1 + 7 x
# share for a model with seven adapted linears a layer (04's Qwen2, target_modules="all-linear").
LORA_DECODE_SHARE = (0.07, 0.14)
# AdamW per trainable parameter: low, reading its four fp32 tensors (parameter, gradient, two
# moments: 16 bytes); high, reading and writing them (28) plus the fp16 gradient scaler's unscale
# (8) and gradient clipping (12). Plus a cost per parameter tensor (Python and launches around the
# fused kernels) and per optimizer step (the trainer's scheduler, callbacks and bookkeeping).
# Assumptions, to be refitted.
OPTIMIZER_BYTES_PER_PARAMETER = (16, 48)
OPTIMIZER_US_PER_TENSOR = (3, 10)
OPTIMIZER_STEP_S = (0.005, 0.02)
# Per RL step outside the model (rewards, tokenising, logging, TRL's statistics): an assumption.
STEP_OVERHEAD_S = (0.3, 1.0)
PPO_EPOCHS = 4  # TRL 0.11's PPOConfig default: passes over each batch


@dataclass
class TimeEstimate:
    section: str
    gpu: str
    parts: dict  # what -> (low, high) seconds
    steps: int
    measured: bool = False  # the cpu profile's machine: one figure from measured constants

    @property
    def low_minutes(self) -> float:
        return sum(low for low, _ in self.parts.values()) / 60

    @property
    def high_minutes(self) -> float:
        return sum(high for _, high in self.parts.values()) / 60

    @property
    def total_minutes(self) -> float:
        """The high end: what to plan a session around."""
        return self.high_minutes

    @property
    def seconds_per_step_range(self) -> tuple[float, float]:
        low, high = self.parts.get("training", (0.0, 0.0))
        return low / max(1, self.steps), high / max(1, self.steps)

    @property
    def seconds_per_step(self) -> float:
        """The high end of the seconds per training step."""
        return self.seconds_per_step_range[1]

    @property
    def minutes_text(self) -> str:
        """'60-90 min' (a GPU's range) or '~23 min' (the measured CPU): the one way times are
        printed."""
        return minutes_range_text(self.low_minutes, self.high_minutes)

    def __str__(self) -> str:
        listed = ", ".join(
            f"{name} {minutes_range_text(low / 60, high / 60)}"
            for name, (low, high) in self.parts.items()
        )
        low, high = self.seconds_per_step_range
        per_step = f"~{high:.1f} s" if self.measured else f"{low:.1f}-{high:.1f} s"
        where = "on 2 CPU cores" if self.gpu == "CPU" else f"on one {self.gpu}"
        plan = "" if self.measured else " Plan for the high end."
        return (
            f"Estimated time {where}: {self.minutes_text} ({listed}; {per_step} per "
            f"training step). An estimate from the settings, not a measurement.{plan}"
        )


def minutes_range_text(low: float, high: float) -> str:
    """Minutes as the course prints them everywhere: '60-90 min', or '~23 min' when the ends
    agree."""
    low_r, high_r = max(1, round(low)), max(1, round(high))
    if high_r <= low_r:
        return f"~{high_r} min"
    return f"{low_r}-{high_r} min"


def hours_range_text(low_minutes: float, high_minutes: float) -> str:
    """Hours for a sum of ranges: '6.5-12 GPU-hours'."""

    def fmt(hours: float) -> str:
        return f"{hours:.1f}".rstrip("0").rstrip(".") if hours < 10 else f"{hours:.0f}"

    return f"{fmt(low_minutes / 60)}-{fmt(high_minutes / 60)}"


# ----- the pieces, priced for one end of the range (end: 0 low, 1 high)
# -----------------------------------


def _pick(value, end: int):
    return value[end] if isinstance(value, tuple) else value


def _flops_per_second(card: dict, end: int, precision: str) -> float:
    """The rate training and forward passes run at: 16-bit tensor cores under fp16/bf16 mixed
    precision (bf16 only where the card has it natively), else the fp32 rate."""
    fp32 = card.get("tflops_fp32", card["tflops"])  # a card given by its measured matmul rate alone
    if "efficiency" in card:  # measured (the CPU)
        return fp32 * 1e12 * card["efficiency"]
    if precision == "fp16" or (precision == "bf16" and card.get("native_bf16", True)):
        return card["tflops"] * 1e12 * _pick(COMPUTE_EFFICIENCY, end)
    return fp32 * 1e12 * _pick(FP32_EFFICIENCY, end)


def _layer_seconds(card: dict, end: int) -> float:
    return _pick(card.get("decode_ms_per_layer", DECODE_MS_PER_LAYER), end) / 1000


def _memory_seconds(card: dict, nbytes: float) -> float:
    return nbytes / (
        card["bandwidth_gb_s"] * 1e9 * card.get("bandwidth_efficiency", BANDWIDTH_EFFICIENCY)
    )


def adapted_linears(spec) -> int:
    """Linear layers LoRA's target_modules="all-linear" wraps: 7 a layer in Qwen2/Llama (q, k, v, o,
    gate, up, down; recognised by grouped-query attention), 4 in GPT-2 (c_attn, c_proj, c_fc,
    mlp.c_proj)."""
    return spec.num_layers * (7 if spec.kv_size < spec.hidden_size else 4)


def _decode_seconds(
    spec,
    card: dict,
    steps: int,
    bytes_per_weight: float = 2,
    batch: int = 16,
    *,
    end: int = 1,
    weight_bytes: float | None = None,
    context: float = 0,
    lora_modules: int = 0,
    precision: str = "fp16",
    cuda_graphs: bool = False,
) -> float:
    """Seconds for `steps` decoding steps of one generate call of `batch` sequences: the host's
    fixed cost per layer (and per unmerged LoRA linear), the GPU reading `weight_bytes` and the KV
    cache of `context` tokens, and the arithmetic (2 x parameters per token, which only a CPU
    notices). The low end lets host and GPU overlap (the largest counts); the high end adds the
    host's cost to the GPU's. CUDA graphs (vLLM) remove the host's part."""
    if weight_bytes is None:
        weight_bytes = spec.parameters * bytes_per_weight
    kv_bytes = batch * context * spec.num_layers * 2 * spec.kv_size * 2
    memory = _memory_seconds(card, weight_bytes + kv_bytes)
    share = _pick(LORA_DECODE_SHARE, end)
    host = (
        0.0 if cuda_graphs else (spec.num_layers + share * lora_modules) * _layer_seconds(card, end)
    )
    arithmetic = 2 * spec.parameters * batch / _flops_per_second(card, end, precision)
    if end == 0 or card.get("measured"):
        per_step = max(memory, host, arithmetic)
    else:
        per_step = host + max(memory, arithmetic)
    return steps * per_step


def _weight_bytes(
    spec, *, lora: bool = False, four_bit: bool = False, autocast: bool = False
) -> float:
    """Bytes a decoding step reads: 4-bit linears dequantised to fp16 at batch > 1 (bitsandbytes
    reads 0.5, writes 2, the product reads 2) with the rest in 16 bits; a 16-bit base under LoRA
    (2); fp32 weights (4), which 16-bit autocast casts anew every step (read 4, write 2, read 2)."""
    if four_bit:
        return spec.linear_parameters * 4.5 + (spec.parameters - spec.linear_parameters) * 2
    if lora:
        return spec.parameters * 2
    return spec.parameters * (8 if autocast else 4)


def _train_seconds(
    spec,
    card: dict,
    tokens: float,
    lora: bool = False,
    checkpointing: bool = False,
    *,
    end: int = 1,
    precision: str = "fp16",
    micro_batches: int = 1,
    forward_only: bool = False,
    lora_modules: int = 0,
) -> float:
    """Forward and backward passes over `tokens` in `micro_batches`: the FLOPs at the precision's
    rate, and never less than the host's kernel launches (a backward pass launches about twice a
    forward's kernels)."""
    if forward_only:
        factor, passes = 2, 1
    else:
        factor, passes = (
            (4 if lora else 6) + (2 if checkpointing else 0),
            3 + (1 if checkpointing else 0),
        )
    compute = factor * spec.parameters * tokens / _flops_per_second(card, end, precision)
    layers = spec.num_layers + _pick(LORA_DECODE_SHARE, end) * lora_modules
    launches = micro_batches * passes * layers * _layer_seconds(card, end)
    return max(compute, launches)


def _optimizer_seconds(card: dict, end: int, steps: int, trainable: int, tensors: int) -> float:
    per_step = (
        _memory_seconds(card, trainable * _pick(OPTIMIZER_BYTES_PER_PARAMETER, end))
        + tensors * _pick(OPTIMIZER_US_PER_TENSOR, end) * 1e-6
        + _pick(OPTIMIZER_STEP_S, end)
    )
    return steps * per_step


def _trainable(spec, lora: bool, rank: int = 16) -> tuple[int, int]:
    """Trainable parameters and parameter tensors: every weight (about 12 tensors a layer plus
    embeddings and the final norm), or LoRA's A and B matrices on every linear."""
    if lora:
        return spec.lora_parameters(rank, "all-linear"), 2 * adapted_linears(spec)
    return spec.parameters, 12 * spec.num_layers + 4


def _evaluation_seconds(
    spec,
    card,
    end,
    problems: int,
    new_tokens: int,
    weight_bytes: float,
    prompt: int,
    lora_modules: int = 0,
    batch: int = 16,
) -> float:
    """One evaluate_gsm8k pass: greedy, 16 problems per generate call, every call run to the length
    limit (with 16 answers, one long one keeps the whole batch going)."""
    return -(-problems // batch) * _decode_seconds(
        spec,
        card,
        new_tokens,
        batch=batch,
        end=end,
        weight_bytes=weight_bytes,
        context=prompt + new_tokens / 2,
        lora_modules=lora_modules,
        precision="fp32",
    )


def _half(card: dict, precision: str) -> str:
    """The 16-bit dtype frozen weights get (helpers.precision.precision_plan): bf16 wherever the
    card has it natively, fp16 elsewhere."""
    return "bf16" if precision != "fp32" and card.get("native_bf16") else "fp16"


def _on_gpu(card: dict) -> bool:
    return not card.get("measured")


# ----- the notebooks
# ------------------------------------------------------------------------------------


def _sft(s, card, end, prompt):
    spec = model_spec(s.model_id)
    tokens = (
        s.train_size * s.epochs * min(s.max_length, 250)
    )  # a GSM8K prompt + solution: ~250 GPT-2 tokens
    micro = -(-s.train_size // s.batch_size) * s.epochs
    steps = -(-s.train_size // (s.batch_size * s.gradient_accumulation_steps)) * s.epochs
    trainable, tensors = _trainable(spec, False)
    training = _train_seconds(
        spec,
        card,
        tokens,
        checkpointing=s.gradient_checkpointing,
        end=end,
        precision=s.precision,
        micro_batches=micro,
    ) + _optimizer_seconds(card, end, steps, trainable, tensors)
    # before and after, fp32 outside the trainer
    evaluation = 2 * _evaluation_seconds(
        spec, card, end, s.eval_size, s.eval_max_new_tokens, _weight_bytes(spec), prompt
    )
    return {"training": training, "evaluation": evaluation}, steps


def _ppo_step_seconds(spec, card, end, s, prompt, reward_spec, *, chunk, texts, reward_precision):
    """One TRL 0.11 PPO step, all in fp32 (no mixed precision): generate the batch in ``chunk``s,
    forward passes of the policy (log-probs, values) and the reference, the reward (``texts`` per
    completion, in ``reward_precision``), then ppo_epochs passes in mini-batches, each with its
    optimizer step."""
    batch_tokens = s.batch_size * (prompt + s.max_new_tokens)
    minis = -(-s.batch_size // s.mini_batch_size)
    lora = getattr(s, "lora", False)
    modules = adapted_linears(spec) if lora else 0
    generate = -(-s.batch_size // chunk) * _decode_seconds(
        spec,
        card,
        s.max_new_tokens,
        batch=chunk,
        end=end,
        weight_bytes=_weight_bytes(spec),
        context=prompt + s.max_new_tokens / 2,
        lora_modules=modules,
        precision="fp32",
    )
    # the policy's and the reference's forward passes, both fp32 (03 keeps its reference in fp32 for
    # a step-0 KL of 0; under LoRA the reference is the policy with its adapters off)
    forwards = _train_seconds(
        spec,
        card,
        batch_tokens,
        end=end,
        precision="fp32",
        micro_batches=minis,
        forward_only=True,
        lora_modules=modules,
    ) + _train_seconds(
        spec, card, batch_tokens, end=end, precision="fp32", micro_batches=minis, forward_only=True
    )
    reward = _train_seconds(
        reward_spec,
        card,
        s.batch_size * texts * s.max_new_tokens,
        end=end,
        precision=reward_precision,
        forward_only=True,
    )
    updates = PPO_EPOCHS * minis
    train = _train_seconds(
        spec,
        card,
        PPO_EPOCHS * batch_tokens,
        lora,
        end=end,
        precision="fp32",
        micro_batches=updates,
        lora_modules=modules,
    )
    optimizer = _optimizer_seconds(card, end, updates, *_trainable(spec, lora))
    return generate + forwards + reward + train + optimizer + _pick(STEP_OVERHEAD_S, end)


def _reinforce_step_seconds(spec, card, end, s, prompt):
    """One step of 01's REINFORCE (fp32, outside any trainer): generate the batch at once, score it,
    one forward and backward pass over it, one optimizer step."""
    tokens = s.batch_size * (prompt + s.max_new_tokens)
    generate = _decode_seconds(
        spec,
        card,
        s.max_new_tokens,
        batch=s.batch_size,
        end=end,
        weight_bytes=_weight_bytes(spec),
        context=prompt + s.max_new_tokens / 2,
        precision="fp32",
    )
    reward = _train_seconds(
        model_spec(s.classifier_model),
        card,
        s.batch_size * s.max_new_tokens,
        end=end,
        precision="fp32",
        forward_only=True,
    )
    train = _train_seconds(spec, card, tokens, end=end, precision="fp32")
    optimizer = _optimizer_seconds(card, end, 1, *_trainable(spec, False))
    return generate + reward + train + optimizer


def _genre_ppo(s, card, end, prompt):
    """Notebook 01: TRL's generate in chunks of 4, the classifier's reward in fp32, and the
    classifier's own training (~5 examples of ~64 tokens per text and epoch, batches of 32)."""
    spec, classifier = model_spec(s.policy_model), model_spec(s.classifier_model)
    step = _ppo_step_seconds(
        spec, card, end, s, prompt, classifier, chunk=4, texts=1, reward_precision="fp32"
    )
    examples = 5 * 4 * s.texts_per_genre
    steps = -(-examples // 32) * s.classifier_epochs
    parts = {
        "REINFORCE": 2 * s.reinforce_steps * _reinforce_step_seconds(spec, card, end, s, prompt),
        "training": s.ppo_steps * step,
        "classifier": _train_seconds(
            classifier,
            card,
            examples * s.classifier_epochs * 64,
            end=end,
            precision=s.precision,
            micro_batches=steps,
        )
        + _optimizer_seconds(card, end, steps, *_trainable(classifier, False)),
    }
    return parts, s.ppo_steps


def _ppo_sft(s, card, end, prompt):
    """Notebook 03: generate in mini-batches, the encoder embeds completions and references in 16
    bits, the similarity-only contrast trains again, and GSM8K is evaluated before, after and on
    the contrast."""
    spec = model_spec("gpt2" if s.policy_model == "sft_checkpoint" else s.policy_model)
    step = _ppo_step_seconds(
        spec,
        card,
        end,
        s,
        prompt,
        model_spec(s.reward_model),
        chunk=s.mini_batch_size,
        texts=2,
        reward_precision=_half(card, s.precision),
    )
    parts = {"training": s.ppo_steps * step}
    if s.contrast:
        parts["contrast"] = parts["training"]
    parts["evaluation"] = (3 if s.contrast else 2) * _evaluation_seconds(
        spec, card, end, s.eval_size, s.eval_max_new_tokens, _weight_bytes(spec), prompt
    )
    return parts, s.ppo_steps


def _rl_seconds(
    spec,
    card,
    end,
    s,
    steps: int,
    prompt: int,
    completion: int,
    *,
    precision: str,
    lora: bool = False,
    four_bit: bool = False,
    checkpointing: bool = False,
    beta: float = 0.0,
    rloo: bool = False,
    reward_spec=None,
) -> float:
    """GRPO/RLOO with TRL 1.16: `steps` optimizer steps of gradient_accumulation_steps
    micro-batches; one generation batch (generation_batch_size completions, by default a step's)
    serves num_iterations passes. Per generation batch: decoding, the log-prob forward passes TRL
    needs (RLOO: the old policy's always, the reference's with beta > 0; GRPO: the old policy's only
    when a batch spans optimizer steps), a reward model's forward pass, the step's fixed cost."""
    per_micro = s.per_device_train_batch_size
    accumulation = getattr(s, "gradient_accumulation_steps", 1)
    generation_batch = getattr(s, "generation_batch_size", None) or per_micro * accumulation
    iterations = getattr(s, "num_iterations", 1)
    micro_per_generation = generation_batch // per_micro * iterations
    micro_batches = steps * accumulation
    generations = micro_batches / micro_per_generation
    modules = adapted_linears(spec) if lora else 0
    on_gpu = _on_gpu(card)
    weights = _weight_bytes(spec, lora=lora, four_bit=four_bit, autocast=on_gpu and not lora)
    decode = _decode_seconds(
        spec,
        card,
        completion,
        batch=generation_batch,
        end=end,
        weight_bytes=weights,
        context=prompt + completion / 2,
        lora_modules=modules,
        precision=precision,
    )
    tokens = generation_batch * (prompt + completion)
    old_policy = rloo or accumulation % (generation_batch // per_micro * iterations) != 0
    forwards = (int(old_policy) + int(beta > 0)) * _train_seconds(
        spec,
        card,
        tokens,
        end=end,
        precision=precision,
        micro_batches=-(-generation_batch // per_micro),
        forward_only=True,
        lora_modules=modules,
    )
    if reward_spec is not None:
        forwards += _train_seconds(
            reward_spec,
            card,
            generation_batch * completion,
            end=end,
            precision=precision,
            forward_only=True,
        )
    train = _train_seconds(
        spec,
        card,
        per_micro * (prompt + completion),
        lora,
        checkpointing,
        end=end,
        precision=precision,
        lora_modules=modules,
    )
    optimizer = _optimizer_seconds(card, end, steps, *_trainable(spec, lora))
    return (
        generations * (decode + forwards + _pick(STEP_OVERHEAD_S, end))
        + micro_batches * train
        + optimizer
    )


def _genre_rloo(s, card, end, prompt):
    """Notebook 05: RLOO on the genre task, the classifier's reward in every generation batch."""
    training = _rl_seconds(
        model_spec(s.policy_model),
        card,
        end,
        s,
        s.max_steps,
        prompt,
        s.max_completion_length,
        precision=s.precision if _on_gpu(card) else "fp32",
        beta=s.beta,
        rloo=True,
        reward_spec=model_spec(s.classifier_model),
    )
    return {"training": training}, s.max_steps


def _grpo(s, card, end, prompt):
    """Notebook 04: GRPO (LoRA or QLoRA where set), GSM8K evaluated before and after (and on the
    untuned model after a format warm start, which trains one SFT pass first)."""
    on_gpu = _on_gpu(card)
    spec = model_spec(s.model_id)
    four_bit = on_gpu and getattr(s, "load_in_4bit", False)
    lora = getattr(s, "lora", False) or four_bit
    precision = s.precision if on_gpu else "fp32"
    parts = {
        "training": _rl_seconds(
            spec,
            card,
            end,
            s,
            s.max_steps,
            prompt,
            s.max_completion_length,
            precision=precision,
            lora=lora,
            four_bit=four_bit,
            checkpointing=getattr(s, "gradient_checkpointing", False),
            beta=s.beta,
        )
    }
    loaded = _weight_bytes(spec, lora=lora, four_bit=four_bit)  # evaluation runs outside autocast
    before = _evaluation_seconds(
        spec, card, end, s.eval_size, s.max_completion_length, loaded, prompt
    )
    after = _evaluation_seconds(
        spec,
        card,
        end,
        s.eval_size,
        s.max_completion_length,
        loaded,
        prompt,
        lora_modules=adapted_linears(spec) if lora else 0,
    )  # the trainer's PEFT model
    parts["evaluation"] = (
        before + after + (before if s.warm_start_examples else 0)
    )  # + the untuned model
    if s.warm_start_examples:  # the format warm start: one SFT pass, batches of 8
        micro = -(-s.warm_start_examples // 8) * s.warm_start_epochs
        tokens = s.warm_start_examples * s.warm_start_epochs * 250
        modules = adapted_linears(spec) if lora else 0
        parts["warm start"] = _train_seconds(
            spec,
            card,
            tokens,
            lora,
            end=end,
            precision=precision,
            micro_batches=micro,
            lora_modules=modules,
        ) + _optimizer_seconds(card, end, micro, *_trainable(spec, lora))
    return parts, s.max_steps


def _preferences(s, card, end, prompt):
    """Notebook 06: pairs, reward model, DPO, RLOO and the sweep, measured along the way."""
    spec, classifier = model_spec(s.policy_model), model_spec(s.classifier_model)
    precision = s.precision if _on_gpu(card) else "fp32"
    length = prompt + s.max_new_tokens
    train_pairs = int(s.pairs * (1 - s.held_out))  # at most: ties are dropped
    trainable = _trainable(spec, False)

    def sample(
        texts: int,
    ) -> float:  # the policy outside any trainer (fp32), 32 texts per generate call
        return -(-texts // 32) * _decode_seconds(
            spec,
            card,
            s.max_new_tokens,
            batch=32,
            end=end,
            weight_bytes=_weight_bytes(spec),
            context=prompt + s.max_new_tokens / 2,
            precision="fp32",
        )

    def pairwise(
        epochs: int, batch: int, factor: float
    ) -> float:  # chosen and rejected, `factor` x a pass
        micro = -(-train_pairs // batch) * epochs
        passes = _train_seconds(
            spec,
            card,
            epochs * train_pairs * 2 * length,
            end=end,
            precision=precision,
            micro_batches=micro,
        )
        return passes * factor + _optimizer_seconds(card, end, micro, *trainable)

    parts = {
        "preference pairs": sample(2 * s.pairs)
        + _train_seconds(
            classifier,
            card,
            2 * s.pairs * length,
            end=end,
            precision="fp32",
            micro_batches=-(-2 * s.pairs // 32),
            forward_only=True,
        ),
        "reward model": pairwise(s.reward_epochs, s.reward_batch_size, 1.0),
        "DPO": pairwise(s.dpo_epochs, s.dpo_batch_size, 4 / 3),  # + the reference's forward pass
    }
    rl = dict(
        precision=precision, rloo=True, reward_spec=spec
    )  # the learned reward model: GPT-2 sized
    parts["training"] = _rl_seconds(
        spec, card, end, s, s.rl_steps, prompt, s.max_new_tokens, beta=s.rl_beta, **rl
    )
    parts["over-optimisation sweep"] = sum(
        _rl_seconds(spec, card, end, s, s.sweep_steps, prompt, s.max_new_tokens, beta=beta, **rl)
        for beta in s.sweep_betas
    )
    runs = 1 + len(s.sweep_betas)  # each measured at its checkpoints, plus the reference and DPO
    parts["measurements"] = (runs * s.checkpoints + 2) * sample(2 * s.eval_prompts)
    return parts, s.rl_steps


# Each lesson's ``time`` shape (``helpers.lessons``): settings, card, end, prompt -> (parts, steps).
SHAPES = {
    "sft": _sft,
    "genre_ppo": _genre_ppo,
    "ppo_sft": _ppo_sft,
    "grpo": _grpo,
    "genre_rloo": _genre_rloo,
    "preferences": _preferences,
}


def check_time_shapes(lessons: list[dict]) -> None:
    """Every lesson's ``time`` a shape above, or a LessonError naming the record."""
    for lesson in lessons:
        if "time" in lesson and lesson["time"] not in SHAPES:
            raise LessonError(
                f"Lesson {lesson['notebook']!r}: no time shape {lesson['time']!r} in "
                f"helpers.timing; it has {sorted(SHAPES)}."
            )


check_time_shapes(COURSE)


def minutes(
    section: str, settings: SimpleNamespace, gpu: str = "T4", prompt_len: int | None = None
) -> TimeEstimate:
    """The time a notebook's training (and GSM8K evaluation) takes on `gpu`, from its profile
    settings: a range on a GPU, one figure on the measured CPU."""
    if gpu not in GPUS:
        raise ValueError(f"Unknown GPU {gpu!r}; estimates exist for {sorted(GPUS)}.")
    shape = lesson_for(section).get("time")
    if shape is None:
        raise ValueError(f"No time estimate for section {section!r}: its lesson trains nothing.")
    card = GPUS[gpu]
    prompt = prompt_len or PROMPT_TOKENS.get(section, 100)
    low, steps = SHAPES[shape](settings, card, 0, prompt)
    high = SHAPES[shape](settings, card, 0 if card.get("measured") else 1, prompt)[0]
    parts = {name: (round(low[name], 1), round(max(low[name], high[name]), 1)) for name in low}
    return TimeEstimate(section, gpu, parts, steps, measured=bool(card.get("measured")))


# ----- the published anchors
# ----------------------------------------------------------------------------

# Two GRPO runs on a Colab T4, priced by the formulas above with the setups their notebooks state.
ANCHORS = {
    "TRL grpo_trl_lora_qlora": dict(
        source="huggingface/trl examples/notebooks/grpo_trl_lora_qlora.ipynb (run of "
        "2025-12-19, TRL 0.26)",
        setup="Qwen2-7B-Instruct, 4-bit NF4 (double quantisation, fp16 compute) with the rest "
        "loaded in fp32, LoRA r=32 on q,k,v,o,gate,up,down, "
        "per_device_train_batch_size=8 with num_generations=8 (one prompt, 8 completions "
        "a step), max_completion_length=256, gradient checkpointing, Liger kernel, "
        "paged_adamw_8bit, transformers generate (no vLLM), TRL's default bf16 autocast "
        "(the T4 has no native bf16: its fp32 rate); NuminaMath-TIR prompts with a "
        "system prompt, ~170 tokens (our guess)",
        measured="500 steps in 47,229 s: 94.5 s a step; peak reserved memory 8.83 GB",
        measured_seconds_per_step=94.5,
    ),
    "Unsloth Qwen2.5-3B GRPO": dict(
        source="unslothai/notebooks nb/Qwen2.5_(3B)-GRPO.ipynb (Unsloth 2025.2, vLLM 0.7.1, "
        "Colab T4)",
        setup="Qwen2.5-3B-Instruct in 4-bit (bitsandbytes) with vLLM generation (CUDA graphs), "
        "LoRA r=64 on the seven linears, one prompt x 8 completions x 200 tokens a step, "
        "fp16, Unsloth's gradient checkpointing, beta=0.04 (a reference forward pass "
        "with the adapter off); GSM8K prompts, ~120 tokens (our guess)",
        measured="250 steps in 1 h 40 min: ~24 s a step",
        measured_seconds_per_step=24.0,
    ),
}


def _qwen_spec(name, parameters, layers, hidden, kv, intermediate, vocab, tied):
    per_layer_in_out = 2 * (hidden + hidden) + 2 * (hidden + kv) + 3 * (hidden + intermediate)
    linear = layers * (2 * hidden * hidden + 2 * hidden * kv + 3 * hidden * intermediate)
    return ModelSpec(
        name=name,
        parameters=parameters,
        linear_parameters=linear,
        hidden_size=hidden,
        num_layers=layers,
        kv_size=kv,
        vocab_size=vocab,
        tied_embeddings=tied,
        lora_per_rank={"all-linear": layers * per_layer_in_out},
    )


def anchors() -> dict:
    """Each anchor's seconds per step as this module prices it, (low, high), next to what was
    measured."""
    card, out = GPUS["T4"], {}
    qwen7 = _qwen_spec("Qwen2-7B-Instruct", 7_615_616_512, 28, 3584, 512, 18944, 152064, False)
    qwen3 = _qwen_spec("Qwen2.5-3B-Instruct", 3_085_938_688, 36, 2048, 256, 11008, 151936, True)
    for name, spec, prompt, completion in (
        ("TRL grpo_trl_lora_qlora", qwen7, 170, 256),
        ("Unsloth Qwen2.5-3B GRPO", qwen3, 120, 200),
    ):
        priced = []
        for end in (0, 1):
            trl = spec is qwen7
            rest = spec.parameters - spec.linear_parameters
            if (
                trl
            ):  # the fp32 lm_head is cast to bf16 by autocast every step (read 4, write 2, read 2)
                weight_bytes = spec.linear_parameters * 4.5 + spec.vocab_size * spec.hidden_size * 8
            else:  # tied embeddings, fp16
                weight_bytes = spec.linear_parameters * 4.5 + rest * 2
            decode = _decode_seconds(
                spec,
                card,
                completion,
                batch=8,
                end=end,
                weight_bytes=weight_bytes,
                context=prompt + completion / 2,
                lora_modules=adapted_linears(spec) if trl else 0,
                cuda_graphs=not trl,
            )
            tokens = 8 * (prompt + completion)
            train = _train_seconds(
                spec,
                card,
                tokens,
                True,
                True,
                end=end,
                precision="bf16" if trl else "fp16",
                lora_modules=adapted_linears(spec),
            )
            if not trl:  # beta=0.04: the reference's forward pass (adapter off)
                train += _train_seconds(
                    spec, card, tokens, end=end, precision="fp16", forward_only=True
                )
            trainable = spec.lora_parameters(32 if trl else 64, "all-linear")
            optimizer = _optimizer_seconds(card, end, 1, trainable, 2 * adapted_linears(spec))
            priced.append(round(decode + train + optimizer + _pick(STEP_OVERHEAD_S, end), 1))
        out[name] = dict(ANCHORS[name], priced_seconds_per_step=tuple(priced))
    return out
