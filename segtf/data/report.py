"""Bad-data reporting: one clear message per bad file, collected before training starts."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

logger = logging.getLogger(__name__)

MAX_LISTED = 20  # errors list this many bad items in full, then a count


class DataError(ValueError):
    """A dataset problem the user has to fix (or skip with `skip_bad=True` / `--skip-bad`)."""


@dataclass(frozen=True)
class BadItem:
    """One unusable image / mask (pair): the file(s), what is wrong, how to fix it."""

    paths: tuple[str, ...]
    problem: str
    fix: str

    def __str__(self) -> str:
        return f"{' + '.join(self.paths)}: {self.problem}. Fix: {self.fix}"


@dataclass
class DataReport:
    """Outcome of listing + validating a dataset."""

    pairs: list[tuple[str, str]] = field(default_factory=list)
    bad: list[BadItem] = field(default_factory=list)
    sizes: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    image_modes: set[str] = field(default_factory=set)
    mask_modes: set[str] = field(default_factory=set)

    def raise_or_skip(self, skip_bad: bool, what: str = "dataset") -> None:
        """Raises one `DataError` naming every bad item, or (skip_bad) logs them and goes on."""
        if not self.bad:
            return
        listed = "\n".join(f"  - {item}" for item in self.bad[:MAX_LISTED])
        more = len(self.bad) - MAX_LISTED
        if more > 0:
            listed += f"\n  ... and {more} more"
        if not skip_bad:
            raise DataError(
                f"{len(self.bad)} bad item(s) in {what}:\n{listed}\n"
                "Fix them, or pass skip_bad=True (CLI: --skip-bad) to leave them out."
            )
        logger.warning(
            "Skipping %d bad item(s) in %s (%d usable pairs):\n%s",
            len(self.bad),
            what,
            len(self.pairs),
            listed,
        )
