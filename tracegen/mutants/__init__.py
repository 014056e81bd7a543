"""Mutants: incorrect variants of correct solutions (AST operators), kept when they compile, terminate
and fail a test, each with the first step where its trace departs from the original's."""

from .divergence import first_divergence
from .operators import OPERATORS, Site, apply, mutation_sites
from .stage import MutateConfig, mutate_problem, mutate_problems

__all__ = ["OPERATORS", "MutateConfig", "Site", "apply", "first_divergence", "mutate_problem", "mutate_problems",
           "mutation_sites"]
