"""The CP-style programs the tracer benchmarks run, with deterministic input generators.

Each is a top-level script reading stdin (sieve, 0/1 knapsack with a 2-D table, grid BFS, sort +
two pointers, dict-memo and lru_cache recursion); `gen(size)` makes its input, and `size` is a
work knob roughly proportional to the number of line events.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from typing import Callable

# ---------------------------------------------------------------------------------------------
# The programs. Each is a top-level CP-style script reading stdin; `gen(size)` makes its input.
# `size` is a work knob roughly proportional to the number of line events.
# ---------------------------------------------------------------------------------------------

SIEVE = """\
import sys
n = int(sys.stdin.readline())
is_p = [True] * (n + 1)
is_p[0] = is_p[1] = False
i = 2
while i * i <= n:
    if is_p[i]:
        for j in range(i * i, n + 1, i):
            is_p[j] = False
    i += 1
count = 0
total = 0
for k in range(n + 1):
    if is_p[k]:
        count += 1
        total += k
print(count, total % 1000000007)
"""

KNAPSACK = """\
import sys
data = sys.stdin.read().split()
n, W = int(data[0]), int(data[1])
wt = [int(x) for x in data[2:2 + n]]
val = [int(x) for x in data[2 + n:2 + 2 * n]]
dp = [[0] * (W + 1) for _ in range(n + 1)]
for i in range(1, n + 1):
    w, v = wt[i - 1], val[i - 1]
    for c in range(W + 1):
        dp[i][c] = dp[i - 1][c]
        if c >= w and dp[i - 1][c - w] + v > dp[i][c]:
            dp[i][c] = dp[i - 1][c - w] + v
print(dp[n][W])
"""

BFS = """\
import sys
from collections import deque
input = sys.stdin.readline
h, w = map(int, input().split())
grid = [input().strip() for _ in range(h)]
dist = [[-1] * w for _ in range(h)]
dist[0][0] = 0
q = deque([(0, 0)])
while q:
    r, c = q.popleft()
    d = dist[r][c] + 1
    for dr, dc in ((1, 0), (-1, 0), (0, 1), (0, -1)):
        nr, nc = r + dr, c + dc
        if 0 <= nr < h and 0 <= nc < w and grid[nr][nc] == '.' and dist[nr][nc] < 0:
            dist[nr][nc] = d
            q.append((nr, nc))
reached = 0
far = 0
for row in dist:
    for x in row:
        if x >= 0:
            reached += 1
            if x > far:
                far = x
print(reached, far, dist[h - 1][w - 1])
"""

TWO_POINTERS = """\
import sys
data = sys.stdin.read().split()
n, k = int(data[0]), int(data[1])
a = [int(x) for x in data[2:2 + n]]
a.sort()
i, j = 0, n - 1
pairs = 0
while i < j:
    if a[i] + a[j] <= k:
        pairs += j - i
        i += 1
    else:
        j -= 1
width = k // 50
best = 0
lo = 0
for hi in range(n):
    while a[hi] - a[lo] > width:
        lo += 1
    if hi - lo + 1 > best:
        best = hi - lo + 1
print(pairs, best)
"""

MEMO = """\
import sys
sys.setrecursionlimit(20000)
data = sys.stdin.read().split()
h, w = int(data[0]), int(data[1])
cost = [[int(data[2 + r * w + c]) for c in range(w)] for r in range(h)]
memo = {}
def best(r, c):
    if (r, c) in memo:
        return memo[(r, c)]
    if r == h - 1 and c == w - 1:
        res = cost[r][c]
    elif r == h - 1:
        res = cost[r][c] + best(r, c + 1)
    elif c == w - 1:
        res = cost[r][c] + best(r + 1, c)
    else:
        res = cost[r][c] + min(best(r + 1, c), best(r, c + 1))
    memo[(r, c)] = res
    return res
print(best(0, 0))
"""

LRU = """\
import sys
from functools import lru_cache
sys.setrecursionlimit(20000)
data = sys.stdin.read().split()
n = int(data[0])
coins = [int(x) for x in data[1:]]
@lru_cache(maxsize=None)
def ways(amount, idx):
    if amount == 0:
        return 1
    if amount < 0 or idx == len(coins):
        return 0
    total = ways(amount - coins[idx], idx)
    total += ways(amount, idx + 1)
    return total % 1000000007
total = 0
for target in range(0, n + 1, 7):
    total = (total + ways(target, 0)) % 1000000007
print(total)
"""


def gen_sieve(size: int) -> str:
    return f"{size}\n"


def gen_knapsack(size: int) -> str:
    rng = random.Random(1)
    n = 40
    W = max(10, size // (n * 5))
    wt = [rng.randint(1, max(2, W // 4)) for _ in range(n)]
    val = [rng.randint(1, 1000) for _ in range(n)]
    return f"{n} {W}\n{' '.join(map(str, wt))}\n{' '.join(map(str, val))}\n"


def gen_bfs(size: int) -> str:
    rng = random.Random(2)
    side = max(4, int(math.sqrt(size / 17)))
    rows = []
    for r in range(side):
        rows.append("".join("#" if rng.random() < 0.25 and (r, c) != (0, 0) else "." for c in range(side)))
    return f"{side} {side}\n" + "\n".join(rows) + "\n"


def gen_two_pointers(size: int) -> str:
    rng = random.Random(3)
    n = max(4, size // 9)
    a = [rng.randint(1, 10**6) for _ in range(n)]
    return f"{n} {10**6}\n{' '.join(map(str, a))}\n"


def gen_memo(size: int) -> str:
    rng = random.Random(4)
    side = max(3, int(math.sqrt(size / 14)))
    cells = [rng.randint(1, 99) for _ in range(side * side)]
    return f"{side} {side}\n{' '.join(map(str, cells))}\n"


def gen_lru(size: int) -> str:
    coins = [1, 2, 5, 10, 20, 50, 100, 200]
    n = max(8, size // 60)
    return f"{n}\n{' '.join(map(str, coins))}\n"


@dataclass
class Program:
    name: str
    what: str
    source: str
    gen: Callable[[int], str]
    full: int  # size knob at full size (>= 0.5 M line events)
    # size knob for the PySnooper/snoop comparison: plain main() takes ~0.5-1.5 ms. (At 5-20 ms
    # PySnooper needs minutes per program: it repr()s whole containers on every line before
    # cutting them, so its per-line cost grows with the data; a small size is kind to it.)
    small: int


PROGRAMS = [
    Program("sieve", "sieve of Eratosthenes", SIEVE, gen_sieve, 100_000, 4_500),
    Program("knapsack", "0/1 knapsack, 2-D dp table", KNAPSACK, gen_knapsack, 800_000, 15_000),
    Program("bfs", "grid BFS with deque", BFS, gen_bfs, 800_000, 20_000),
    Program("two_ptr", "sort + two pointers", TWO_POINTERS, gen_two_pointers, 700_000, 9_000),
    Program("memo", "recursion, dict memo", MEMO, gen_memo, 800_000, 15_000),
    Program("lru", "recursion, lru_cache", LRU, gen_lru, 760_000, 25_000),
]
