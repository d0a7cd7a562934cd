"""Helpers for the RLHF with TRL course: what the notebooks reuse, and what is not the lesson. Every
module imports on both TRL stacks. One line each:

What the lessons use
    answers      the final number of a solution or an output, and whether it is right
    data         GSM8K, the course's own problems and genre texts, and the formats trained on
    rewards      04's heuristic reward functions, in TRL's convention
    evaluation   GSM8K accuracy with intervals, and paired before/after comparisons
    preferences  06's preference pairs, the reward model's checks and its measures
    by_hand      keeps one real batch of a trainer's run, to redo its maths by hand
    plots        training curves from a trainer's log history
    widgets      the settings table, the playground (checkpoints side by side) and the
                 preference-labelling panel

Settings and runtime the lessons need
    lessons      one record per notebook: file, stack, section, inputs, memory and time shapes
    profiles     every setting that changes with the machine, one table per profile
    ranges       the sensible range of each setting a student may change, checked first
    env          the TRL stack, the device and its precision, and where outputs go
    models       where a model id comes from: built here, a folder, the hub, or a package
    precision    which dtype each model loads in and trains under, checked before step one
    tiny         small offline stand-ins for every model, built and cached
    memory       estimate (before a run), measure (during one), fit (to a GPU)
    timing       how long a notebook takes on a GPU class, from its settings
    overview     the course at a glance: each lesson's memory and time on the real profiles
    results      what a notebook leaves behind: metrics.json, and whether an RL run learned
    resume       01 and 03's hand-written PPO loops, resumed after a disconnect as if never cut

The machinery that runs, rehearses, reports and publishes the course is the ``course_tools``
package, which imports this one and is never imported by it or by a notebook.
"""
