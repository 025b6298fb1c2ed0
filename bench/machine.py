"""The line that heads every benchmark's table: when, on what machine, with which packages (shared by the bench
scripts)."""

from __future__ import annotations

import datetime
import importlib.metadata
import os
import platform
from pathlib import Path


def version(package: str) -> str:
    try:
        return importlib.metadata.version(package)
    except importlib.metadata.PackageNotFoundError:
        return "not installed"


def cpu_model() -> str:
    cpuinfo = Path("/proc/cpuinfo")
    if cpuinfo.exists():
        for line in cpuinfo.read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    return platform.processor() or platform.machine()


def machine_line(packages: list[str]) -> str:
    """Date, CPU, cores, load average, Python and the version of each package."""
    load = f", load average {os.getloadavg()[0]:.1f}" if hasattr(os, "getloadavg") else ""
    versions = ", ".join(f"{package} {version(package)}" for package in packages)
    return (f"{datetime.datetime.now().astimezone():%Y-%m-%d %H:%M %Z}, {cpu_model()}, {os.cpu_count()} cores "
            f"(shared with other jobs: timings are noisy, compare ratios within one run){load}, Python "
            f"{platform.python_version()}, {versions}")
