"""helpers.memory: tensor bytes and the CPU peak counter agree with what the tensors hold."""

import torch

from helpers.memory import PeakMemory, tensor_bytes

MB = 1024**2


def test_tensor_bytes_counts_weights_gradients_and_optimizer_states_once():
    layer = torch.nn.Linear(10, 10)
    assert tensor_bytes(layer) == 110 * 4
    assert tensor_bytes(layer, layer) == 110 * 4  # shared storages are counted once
    optimizer = torch.optim.AdamW(layer.parameters())
    layer(torch.ones(1, 10)).sum().backward()
    optimizer.step()
    assert tensor_bytes(layer) == 2 * 110 * 4  # weights + gradients
    assert tensor_bytes(optimizer) >= 2 * 110 * 4  # two moments per weight (plus step counters)
    layer.bias.requires_grad_(False)
    assert tensor_bytes(layer, trainable_only=True) == 2 * 100 * 4


def test_cpu_peak_counts_live_tensors_and_forgets_freed_ones():
    weights = torch.zeros(MB // 4)  # 1 MB that exists before
    with PeakMemory(weights, device="cpu") as peak:
        for _ in range(3):
            scratch = torch.ones(2 * MB // 4)  # 2 MB, freed when replaced
            weights.add_(1.0)  # in place: must not count the weights again
            del scratch
    assert peak.bytes == 3 * MB
    assert "live tensors" in peak.how


def test_cpu_peak_of_a_training_step_covers_weights_gradients_and_adam():
    model = torch.nn.Sequential(torch.nn.Linear(256, 256), torch.nn.ReLU(), torch.nn.Linear(256, 256))
    optimizer = torch.optim.AdamW(model.parameters())
    weights = tensor_bytes(model)
    with PeakMemory(model, optimizer, device="cpu") as peak:
        model(torch.randn(8, 256)).sum().backward()
        optimizer.step()
    assert peak.bytes >= 4 * weights  # weights + gradients + two Adam moments
    assert peak.bytes < 6 * weights
