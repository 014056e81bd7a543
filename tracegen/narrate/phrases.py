"""Phrase banks of the template narrator: several wordings per kind of sentence, one picked by a
seeded random generator, so SFT data does not teach a single sentence shape.

Every wording keeps values in inline code right after the variable (`` `x` becomes `3` ``), so
the verifier can read each claim back; none of them mentions a trace or a log.
Placeholders: {n} line number, {f} function, {args} / {ch} rendered changes, {cond} / {code}
source snippets in inline code, {v} a value, {a} {b} {total} {k} counts.
"""

from __future__ import annotations

# how one change is written; the narrator joins several with commas and "and"
CHANGE_FORMS = (
    "{x} becomes {v}",
    "{x} is now {v}",
    "{x} is set to {v}",
    "{x} gets the value {v}",
)
DELETED = "{x} is deleted"

INTRO_FUNCTION = (
    "We call {f} with {args}.",
    "The function {f} is called with {args}.",
    "Execution starts with a call to {f}, where {args}.",
    "{f} starts running with {args}.",
)
INTRO_FUNCTION_NOARGS = (
    "We call {f} with no arguments.",
    "The function {f} is called without arguments.",
)
INTRO_STDIO = (
    "The program starts at the top, with its input waiting on standard input.",
    "The script runs from its first line; its input comes from standard input.",
    "Execution begins at the top of the program, which reads its input from stdin.",
)
ASSIGN = (
    "Line {n}: {ch}.",
    "On line {n}, {ch}.",
    "After line {n} runs, {ch}.",
    "Running line {n}, {ch}.",
    "Line {n} executes and {ch}.",
)
AFTER_CALLS = (
    "Back on line {n}, {ch}.",
    "Line {n} then finishes: {ch}.",
    "With that, line {n} completes and {ch}.",
)
PRINTS = (
    "Line {n} prints {v}.",
    "Line {n} writes {v} to standard output.",
    "On line {n} the program outputs {v}.",
)
LOOP_START = (
    "The loop on line {n} begins: {ch}.",
    "Line {n} starts a loop, and {ch}.",
    "Entering the loop on line {n}, {ch}.",
)
LOOP_NEXT = (
    "Back at the loop header on line {n}: {ch}.",
    "The loop on line {n} moves on, and {ch}.",
    "Next iteration of the loop on line {n}: {ch}.",
)
LOOP_SAME = (
    "The loop on line {n} takes its next item, and {x} stays {v}.",
    "Line {n} moves the loop on; {x} is still {v}.",
)
LOOP_NEXT_PLAIN = (
    "The loop on line {n} continues with its next iteration.",
    "Line {n} sends the loop around once more.",
)
LOOP_END = (
    "The loop on line {n} has nothing left to go through, so it ends.",
    "On line {n} the loop finds no further items and finishes.",
    "The loop on line {n} is done.",
)
WHILE_TRUE = (
    "The condition {cond} on line {n} holds, so the loop body runs.",
    "On line {n}, {cond} is true, and the loop continues.",
)
WHILE_FALSE = (
    "The condition {cond} on line {n} no longer holds, so the loop stops.",
    "On line {n}, {cond} is false now, which ends the loop.",
)
IF_TRUE = (
    "Line {n} checks {cond}: it is true, so that branch runs.",
    "The check {cond} on line {n} holds.",
    "On line {n}, {cond} is true.",
)
IF_FALSE = (
    "Line {n} checks {cond}: it is false, so that branch is skipped.",
    "The check {cond} on line {n} fails.",
    "On line {n}, {cond} is false.",
)
# when the condition's source is too long to quote
IF_TRUE_UNNAMED = ("The condition on line {n} is true, so that branch runs.", "The test on line {n} holds.")
IF_FALSE_UNNAMED = ("The condition on line {n} is false, so that branch is skipped.", "The test on line {n} fails.")
WHILE_TRUE_UNNAMED = ("The loop condition on line {n} holds, so the body runs.",)
WHILE_FALSE_UNNAMED = ("The loop condition on line {n} no longer holds, so the loop stops.",)
COMP_ITEM = ("In the comprehension, {ch}.", "The comprehension moves on: {ch}.", "Inside the comprehension, {ch}.")
# Truthful also when a long value is shown cut (`…`): a change past the cut is not visible, so
# never claim that nothing changed at all.
NO_CHANGE = (
    "Line {n} runs {code}; no value shown so far changes.",
    "Line {n} executes {code}, leaving the values shown so far as they were.",
)
NO_CHANGE_PLAIN = (
    "Line {n} runs; no value shown so far changes.",
    "Line {n} executes; nothing visible changes.",
)
BREAK = ("Line {n} breaks out of the loop.", "On line {n}, `break` leaves the loop.")
CONTINUE = ("Line {n} jumps straight to the next iteration.", "On line {n}, `continue` skips the rest of this iteration.")
PASS = ("Line {n} does nothing.",)
DEFINES = ("Line {n} defines {code}.", "On line {n}, {code} is defined.")
IMPORTS = ("Line {n} imports what the program needs.", "Line {n} runs an import.")
RAISES = ("Line {n} raises {v}.", "On line {n} an exception is raised: {v}.")
PROPAGATES = ("The exception reaches line {n} in {f}.", "The exception passes up through line {n} of {f}.")
CALLS = (
    "Line {n} calls {f} with {args}.",
    "From line {n}, {f} is called with {args}.",
    "Line {n} hands {args} to {f}.",
)
CALLS_NOARGS = ("Line {n} calls {f}.", "From line {n}, {f} is called.")
COMPREHENSION = ("The comprehension on line {n} runs.", "Line {n} evaluates a comprehension.")
GENEXPR = ("The generator expression on line {n} is asked for its next item.",
           "Line {n} asks the generator expression for another item.")
GEN_START = ("The generator {f} starts with {args}.",)
GEN_RESUME = ("The generator {f} resumes.", "{f} picks up where it left off.")
RETURNS = ("{f} returns {v}.", "{f} hands back {v}.", "So {f} returns {v}.")
RETURNS_NONE = ("{f} returns `None`.", "{f} finishes and returns `None`.")
YIELDS = ("{f} yields {v}.", "{f} produces {v}.")
EXHAUSTED = ("{f} has no more items.", "{f} is exhausted.")
COMPREHENSION_DONE = ("The comprehension produces {v}.", "The comprehension finishes with {v}.")
FOLD_LOOP = (
    "The loop on line {n} repeats the same way for {k} more iterations ({a} to {b} of {total}).",
    "Iterations {a} to {b} of the loop on line {n} go the same way ({total} iterations in all).",
    "The same pattern continues for {k} more passes through the loop on line {n} ({total} in all).",
)
FOLD_AFTER = ("After them, {ch}.", "By the end of those iterations, {ch}.", "Once they are done, {ch}.")
FOLD_PRINTS = ("Along the way the program prints {k} more times.",)
FOLD_CALLS = (
    "{f} is called {k} more times in the same way (calls {a} to {b} of {total}).",
    "The same happens for calls {a} to {b} of {f}, {total} calls in all.",
)
FOLD_STEPS = (
    "Then {k} more steps run, too many to follow one at a time here.",
    "Skipping ahead over the next {k} steps:",
)
END_FUNCTION = (
    "So the call returns {v}.",
    "The final result of the call is {v}.",
    "Altogether, the function returns {v}.",
)
END_FUNCTION_LONG = ("So the call returns the value below.", "The final result is the value below.")
END_STDIO = (
    "The program ends. Everything it printed is below.",
    "That is the end of the program; its complete output follows.",
    "The run is over, and this is exactly what it printed:",
)
