"""Keep one real batch of a PPO, GRPO or RLOO run, so that a notebook can redo the trainer's maths
by hand.

``BatchWatch(trainer, step)`` is attached before ``trainer.train()``. For the first batch generated
at or after ``step`` it keeps what the trainer computed (each reward function's scores, the
advantages) and, from a plain forward pass of the policy and of the reference model (not TRL's
code), the log-probability of every completion token. For the first update on that batch it keeps
the update's inputs, the policy's and the reference's log-probabilities just before it, and what the
trainer returned and logged (loss, KL). It only reads: training runs exactly as without it.

``PPOWatch(ppo_trainer, step)`` does the same for TRL 0.11's classic ``PPOTrainer.step``: the inputs
of the watched step with the policy's and the reference's log-probabilities and the value head's
values just before it, and what ``step`` computed inside (per-token rewards, advantages, returns,
and the losses of its first mini-batch update).

The notebooks then write the formulas out in a few lines of torch and compare (01: PPO's shaped
rewards, GAE and clipped loss; 04: GRPO's group advantages, k3 KL and ``dapo`` loss; 05: RLOO's
leave-one-out baseline). The tests hold the two within a tolerance, so a TRL upgrade that changes
the maths is caught.
"""

from __future__ import annotations

import torch


def completion_logps(
    model, prompt_ids, prompt_mask, completion_ids, completion_mask, temperature: float = 1.0
):
    """log π(token) for every completion token, from the model's ordinary forward pass, on the
    CPU."""
    device = next(model.parameters()).device
    input_ids = torch.cat([prompt_ids, completion_ids], dim=1).to(device)
    attention_mask = torch.cat([prompt_mask, completion_mask], dim=1).to(device)
    with torch.no_grad():
        logits = model(input_ids=input_ids, attention_mask=attention_mask).logits
    logits = (
        logits[:, prompt_ids.size(1) - 1 : -1].float() / temperature
    )  # the logits that predicted each completion token
    logps = (
        torch.log_softmax(logits, dim=-1)
        .gather(-1, completion_ids.to(device).unsqueeze(-1))
        .squeeze(-1)
    )
    return logps.cpu()


def _cpu(value):
    return value.detach().cpu().clone() if torch.is_tensor(value) else value


class BatchWatch:
    """Watches a TRL ``GRPOTrainer`` or ``RLOOTrainer`` (see the module's docstring).

    ``generation`` and ``update`` are dictionaries of CPU tensors once the watched batch has come;
    ``None`` before (a run shorter than ``step``)."""

    def __init__(self, trainer, step: int):
        self.trainer, self.step = trainer, step
        self.generation: dict | None = None
        self.update: dict | None = None
        generate, compute_loss = trainer._generate_and_score_completions, trainer.compute_loss

        def watched_generate(inputs):
            output = generate(inputs)
            if self.generation is None and trainer.state.global_step >= step:
                self.generation = self._record(output)
                count = len(self.generation["advantages"])
                self.generation["rewards"] = {
                    name: torch.tensor(list(scores)[-count:])
                    for name, scores in trainer._logs["rewards"].items()
                }
            return output

        def watched_loss(model, inputs, *args, **kwargs):
            watching = self.generation is not None and self.update is None
            if watching:
                before = self._record(inputs)
            loss = compute_loss(model, inputs, *args, **kwargs)
            if watching:
                logged = trainer._metrics["train"]
                before["trainer"] = {
                    "loss": float(loss.detach()),
                    "kl": logged["kl"][-1] if logged.get("kl") else None,
                }
                self.update = before
            return loss

        trainer._generate_and_score_completions = watched_generate
        trainer.compute_loss = watched_loss

    def _record(self, batch: dict) -> dict:
        record = {key: _cpu(value) for key, value in batch.items() if torch.is_tensor(value)}
        ids = [
            record[k] for k in ("prompt_ids", "prompt_mask", "completion_ids", "completion_mask")
        ]
        model, reference, temperature = (
            self.trainer.model,
            self.trainer.ref_model,
            self.trainer.temperature,
        )
        record["logps"] = completion_logps(model, *ids, temperature=temperature)
        record["ref_logps"] = None
        if reference is not None:
            record["ref_logps"] = completion_logps(reference, *ids, temperature=temperature)
        elif self.trainer.beta != 0 and hasattr(
            model, "disable_adapter"
        ):  # LoRA: the reference is the base model
            with model.disable_adapter():
                record["ref_logps"] = completion_logps(model, *ids, temperature=temperature)
        return record


def _ppo_forward(model, queries, responses, pad_id: int) -> dict:
    """Log-probability and value of every response token, from one plain forward pass of a model
    with a value head (TRL 0.11's ``AutoModelForCausalLMWithValueHead``) over query + response,
    right-padded."""
    device = next(model.parameters()).device
    sequences = [torch.cat([q, r]).to(device) for q, r in zip(queries, responses)]
    width = max(len(s) for s in sequences)
    input_ids = torch.full((len(sequences), width), pad_id, device=device)
    attention_mask = torch.zeros_like(input_ids)
    for row, sequence in enumerate(sequences):
        input_ids[row, : len(sequence)], attention_mask[row, : len(sequence)] = sequence, 1
    training = model.training
    model.eval()
    with torch.no_grad():
        logits, _, values = model(input_ids=input_ids, attention_mask=attention_mask)
    model.train(training)
    token_logps = (
        torch.log_softmax(logits[:, :-1].float(), dim=-1)
        .gather(-1, input_ids[:, 1:].unsqueeze(-1))
        .squeeze(-1)
    )
    length = max(len(r) for r in responses)
    logps, value, mask = (torch.zeros(len(sequences), length) for _ in range(3))
    for row, (query, response) in enumerate(zip(queries, responses)):
        span = slice(
            len(query) - 1, len(query) - 1 + len(response)
        )  # position t predicts token t + 1
        logps[row, : len(response)] = token_logps[row, span].cpu()
        value[row, : len(response)] = values[row, span].float().cpu()
        mask[row, : len(response)] = 1
    return {"logps": logps, "values": value, "mask": mask}


class PPOWatch:
    """Watches TRL 0.11's ``PPOTrainer`` for its ``step``-th call of ``step`` (counting from 0); see
    the module's docstring. ``record`` is ``None`` until then."""

    def __init__(self, ppo_trainer, step: int):
        self.record: dict | None = None
        self._inside: dict | None = None
        calls = iter(range(10**9))
        original_step, advantages, loss = (
            ppo_trainer.step,
            ppo_trainer.compute_advantages,
            ppo_trainer.loss,
        )
        pad_id = ppo_trainer.tokenizer.pad_token_id

        def watched_step(queries, responses, scores, *args, **kwargs):
            if next(calls) != step:
                return original_step(queries, responses, scores, *args, **kwargs)
            policy = _ppo_forward(ppo_trainer.model, queries, responses, pad_id)
            reference = (
                _ppo_forward(ppo_trainer.ref_model, queries, responses, pad_id)
                if ppo_trainer.ref_model
                else None
            )
            self._inside = {}
            stats = original_step(queries, responses, scores, *args, **kwargs)
            self.record = {
                "scores": torch.stack(
                    [torch.as_tensor(s, dtype=torch.float32) for s in scores]
                ).cpu(),
                "kl_coef": float(stats["objective/kl_coef"]),
                **policy,
                "ref_logps": None if reference is None else reference["logps"],
                "logged": {
                    "kl": float(stats["objective/kl"]),
                    "mean_non_score_reward": float(stats["ppo/mean_non_score_reward"]),
                },
                **self._inside,
            }
            self._inside = None
            return stats

        def watched_advantages(values, rewards, mask):
            result = advantages(values, rewards, mask)
            if self._inside is not None:
                self._inside["inside"] = {
                    name: _cpu(value)
                    for name, value in zip(
                        ("rewards", "mask", "values", "advantages", "returns"),
                        (rewards, mask, *result),
                    )
                }
            return result

        def watched_loss(old_logprobs, values, logits, vpreds, logprobs, mask, advantages, returns):
            result = loss(old_logprobs, values, logits, vpreds, logprobs, mask, advantages, returns)
            if self._inside is not None and "first_update" not in self._inside:
                inputs = dict(
                    old_logprobs=old_logprobs,
                    values=values,
                    vpreds=vpreds,
                    logprobs=logprobs,
                    mask=mask,
                    advantages=advantages,
                    returns=returns,
                )
                self._inside["first_update"] = {
                    **{k: _cpu(v) for k, v in inputs.items()},
                    "policy_loss": float(result[0]),
                    "value_loss": float(result[1]),
                }
            return result

        ppo_trainer.step, ppo_trainer.compute_advantages, ppo_trainer.loss = (
            watched_step,
            watched_advantages,
            watched_loss,
        )
