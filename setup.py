"""C accelerators, each optional: when one cannot be built (no compiler, no Python headers) the
install still succeeds and the pure-Python path runs. Everything else is in pyproject.toml."""

from setuptools import Extension, setup

setup(ext_modules=[
    # the tracer's per-line hook (tracegen/tracer.py keeps the pure-Python one): tracegen/_fasttrace.c
    Extension("tracegen._fasttrace", ["tracegen/_fasttrace.c"], depends=["tracegen/_fasttrace_elements.h"],
              optional=True),
    # packs the events for the sandbox pipe (tracegen/event_columns.py keeps the pure-Python packer)
    Extension("tracegen._packcols", ["tracegen/_packcols.c"], optional=True),
])
