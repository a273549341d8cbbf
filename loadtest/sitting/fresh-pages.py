#!/usr/bin/env python3
"""Where a service's fresh memory is first touched (issue 16): reads
`perf script` output of a profile (DWARF call graphs) on stdin and counts
the samples in the kernel's `clear_page_erms` (zeroing a page on its first
touch) by the code that allocated the memory: the first caller above the
allocator's own frames. Called by `loadtest/sitting/profile`."""
import collections
import re
import sys

ALLOCATION = re.compile(
    r"alloc|allocate|box_new|with_capacity|Arc::new|reserve|grow|RawVec|exchange_malloc|__rust"
)

samples = zeroing = 0
sites = collections.Counter()
for event in sys.stdin.read().split("\n\n"):
    lines = [line.strip() for line in event.strip().split("\n")]
    if len(lines) < 2:
        continue
    samples += 1
    frames = [line.split(" ", 1)[1] if " " in line else line for line in lines[1:]]
    if "clear_page_erms" not in frames[0]:
        continue
    zeroing += 1
    site, in_allocator = None, False
    for frame in frames:
        if "mi_" in frame:
            in_allocator = True
        elif in_allocator and not ALLOCATION.search(frame):
            site = frame[:110]
            break
    sites[site or "(no allocator frame)"] += 1
print(f"samples {samples}, zeroing fresh pages {zeroing} ({100 * zeroing / max(samples, 1):.1f} %), by allocation site:")
for site, count in sites.most_common(8):
    print(f"{count:6d}  {site}")
