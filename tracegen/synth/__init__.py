"""Input synthesis: new tests from type-directed fuzzing of seed inputs (function problems) or a
generator program run in the sandbox (stdio problems), kept when they run `ok` and show a new output
or new covered lines."""

from .fuzz import Observed, args_source, mutate_value, parse_args
from .stage import SynthConfig, synthesize, synthesize_problem

__all__ = ["Observed", "SynthConfig", "args_source", "mutate_value", "parse_args", "synthesize",
           "synthesize_problem"]
