"""What every benchmark shares: variants run interleaved round by round, and one table for all.

A measure compares variants measured side by side in the same run (A B A B ..., so that a
machine that slows down or speeds up mid-run affects both alike). The table prints each
variant's median and range, the ratio of two variants (pair by pair, then the median), the
target and whether it was met.
"""

from __future__ import annotations

import statistics
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field


@dataclass
class Measure:
    name: str
    unit: str  # of the samples: "s", "ms", "req/s", ...
    samples: Mapping[str, Sequence[float]] = field(default_factory=dict)  # variant -> one value per round
    # (numerator, denominator) variant names for the ratio column, or None.
    ratio_of: tuple[str, str] | None = None
    target: str = ""
    # Decides "met" from the measure itself; None prints "-" (information only).
    check: Callable[[Measure], bool] | None = None

    def median(self, variant: str) -> float:
        return statistics.median(self.samples[variant])

    def ratio(self) -> float | None:
        """Median of the round-by-round ratios: robust to drift between rounds."""
        if self.ratio_of is None:
            return None
        top, bottom = (self.samples[v] for v in self.ratio_of)
        return statistics.median(a / b for a, b in zip(top, bottom, strict=True) if b)

    def met(self) -> bool | None:
        return None if self.check is None else self.check(self)


def interleaved(
    rounds: int, variants: dict[str, Callable[[], float | None]], *, progress: Callable[[str], None] = print
) -> dict[str, list[float]]:
    """Run each variant once per round, in turn. A variant returns its own figure (req/s, say)
    or None, in which case its wall-clock seconds are the figure."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for number in range(1, rounds + 1):
        for name, run in variants.items():
            started = time.perf_counter()
            figure = run()
            samples[name].append(time.perf_counter() - started if figure is None else figure)
        progress(f"  round {number}/{rounds}: " + ", ".join(f"{n} {s[-1]:.3g}" for n, s in samples.items()))
    return samples


def print_table(measures: list[Measure]) -> bool:
    """One table for the whole run; returns whether every target with a check was met."""
    header = f"{'measure':<46} {'variant':<30} {'median':>10} {'range':>21} {'ratio':>7}  {'target':<32} result"
    print("\n" + header + "\n" + "-" * len(header))
    all_met = True
    for measure in measures:
        ratio, met = measure.ratio(), measure.met()
        all_met = all_met and met is not False
        for index, (variant, values) in enumerate(measure.samples.items()):
            first = index == 0
            low, high = min(values), max(values)
            median = _fmt(measure.median(variant), measure.unit)
            print(
                f"{measure.name if first else '':<46} {variant:<30} {median:>10} "
                f"{_fmt(low, measure.unit) + ' to ' + _fmt(high, measure.unit):>21} "
                f"{(f'{ratio:.2f}' if ratio is not None else '-') if first else '':>7}  "
                f"{measure.target if first else '':<32} "
                f"{('-' if met is None else 'met' if met else 'MISSED') if first else ''}"
            )
    return all_met


def _fmt(value: float, unit: str) -> str:
    if unit == "s":
        return f"{value:.3f} s" if value < 10 else f"{value:.1f} s"
    return f"{value:.4g} {unit}"
