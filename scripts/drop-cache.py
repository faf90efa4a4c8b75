#!/usr/bin/env python3
"""Evict files from the page cache, for cold-cache benchmarks.

Usage: drop-cache.py PATH...   (files or folders, walked recursively)

First flushes dirty pages (sync), then tries the global
`echo 3 > /proc/sys/vm/drop_caches` (needs root and a writable /proc/sys).
If that is not permitted, falls back to
posix_fadvise(POSIX_FADV_DONTNEED) on every file under PATH (after fsync,
since dirty pages are not evicted). Prints which method was used to stderr
when -v is given.

Note: on a VM the host may still cache the disk image, so "cold" reads can be
faster than the physical disk.
"""

import os
import sys


def files_under(paths):
    for p in paths:
        if os.path.isdir(p):
            for dirpath, _dirs, names in os.walk(p):
                for n in names:
                    yield os.path.join(dirpath, n)
        elif os.path.isfile(p):
            yield p


def fadvise(paths) -> int:
    n = 0
    for f in files_under(paths):
        fd = os.open(f, os.O_RDONLY)
        try:
            os.fsync(fd)
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
            n += 1
        finally:
            os.close(fd)
    return n


def main() -> None:
    args = sys.argv[1:]
    verbose = "-v" in args
    paths = [a for a in args if a != "-v"]
    if not paths:
        sys.exit("usage: drop-cache.py [-v] PATH...")
    os.sync()
    try:
        with open("/proc/sys/vm/drop_caches", "w") as f:
            f.write("3\n")
        method = "drop_caches"
    except OSError:
        method = f"posix_fadvise DONTNEED on {fadvise(paths)} files"
    if verbose:
        print(f"drop-cache: {method}", file=sys.stderr)


if __name__ == "__main__":
    main()
