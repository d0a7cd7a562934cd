"""Memory: estimate it before a run, measure it during one, and fit a run to a GPU.

- ``estimate(Step(kind, model, ...))``: the peak of a training step, as a breakdown (estimate.py);
- ``PeakMemory``, ``tensor_bytes``: measured peaks, on a GPU or a CPU (measure.py);
- ``recommend(gpu_memory_gb, notebook)``: settings that fit, cheapest in quality first (fit.py);
- ``python -m course_tools.memory_check``: estimates against measured steps of real-size models.
"""

from helpers.memory.estimate import (
    GB,
    MemoryEstimate,
    MemoryInputError,
    ModelSpec,
    Step,
    estimate,
    model_spec,
)
from helpers.memory.measure import PeakMemory, peak_memory_callback, tensor_bytes

__all__ = [
    "GB",
    "MemoryEstimate",
    "MemoryInputError",
    "ModelSpec",
    "PeakMemory",
    "Step",
    "estimate",
    "model_spec",
    "peak_memory_callback",
    "tensor_bytes",
]
