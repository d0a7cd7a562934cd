"""Helpers for the RLHF with TRL course: what the notebooks reuse, and what is not the lesson.

One module per subject: ``env`` (stacks, devices, model ids), ``profiles`` (settings per machine),
``tiny`` (small offline models), ``course`` (course map, metrics, the runner), ``data`` (GSM8K
and formats), ``answers`` (answer parsing and grading), ``evaluation`` (GSM8K accuracy),
``plots`` (training curves). Every module imports on both TRL stacks.
"""
