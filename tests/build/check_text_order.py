#!/usr/bin/env python3
"""evictd's link placed the code of its steady rounds side by side (daemon/text-order.txt).

Usage: check_text_order.py EVICTD_BINARY TEXT_ORDER_FILE

Fails when too many of the listed functions are gone from the binary (the list is stale: run
scripts/profile-text-order), or when those present are spread over more 64 KiB windows (the kernel's
fault-around unit) than a link that honoured the order gives: the resident code of a calm evictd
would grow back towards 4-5 MiB.
"""

import subprocess
import sys

WINDOW = 64 * 1024
MIN_PRESENT = 0.90  # of the listed functions, still defined in the binary
MAX_WINDOWS = 32  # 2 MiB; about 25 after an ordered link, 70 without the order


def defined_functions(binary):
    listing = subprocess.run(["nm", "-S", "--defined-only", binary], check=True,
                             capture_output=True, text=True).stdout
    functions = {}
    for line in listing.splitlines():
        fields = line.split()
        if len(fields) == 4 and fields[2] in "tTwW":
            functions.setdefault(fields[3], (int(fields[0], 16), int(fields[1], 16)))
    return functions


def main(argv):
    binary, order_file = argv[1], argv[2]
    with open(order_file, encoding="utf-8") as lines:
        listed = [line.strip() for line in lines if line.strip() and not line.startswith("#")]
    functions = defined_functions(binary)
    present = [functions[name] for name in listed if name in functions]
    windows = set()
    for address, size in present:
        windows.update(range(address // WINDOW, (address + max(size, 1) - 1) // WINDOW + 1))
    print(f"{len(present)} of {len(listed)} listed functions in {binary}, "
          f"{sum(size for _, size in present)} bytes over {len(windows)} windows of 64 KiB")
    failed = False
    if len(present) < MIN_PRESENT * len(listed):
        print(f"{order_file}: {len(listed) - len(present)} of {len(listed)} functions are no longer "
              "in evictd; run scripts/profile-text-order", file=sys.stderr)
        failed = True
    if len(windows) > MAX_WINDOWS:
        print(f"{binary}: the listed functions span {len(windows)} windows of 64 KiB (at most "
              f"{MAX_WINDOWS} expected): was evictd linked with lld and {order_file}?",
              file=sys.stderr)
        failed = True
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
