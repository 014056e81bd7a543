"""Trace stage: load problem sets, run every (solution, test) in a sandbox under our own
sys.settrace tracer, and write Trace rows (DESIGN §2, §5)."""

TRACER_VERSION = "0.2.1"  # 0.2: element changes, effects_at, byte-faithful stdin, real stdout;
# 0.2.1: a full scan lists changed variables in the frame's own order (the C hook, tracegen/_fasttrace.c)
