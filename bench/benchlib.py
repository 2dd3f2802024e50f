"""Shared by the benchmarks: appending figures to bench/RESULTS.md."""
import os
import subprocess
import time


def record(lines):
    """Appends one table row per figure line, with date, commit and machine."""
    rev = subprocess.run(["git", "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    path = os.path.join(os.path.dirname(os.path.abspath(__file__)), "RESULTS.md")
    with open(path, "a") as f:
        for l in lines:
            f.write(f"| {time.strftime('%Y-%m-%d')} | {rev} | {os.uname().nodename} ({os.cpu_count()} cpu) | {l} |\n")
