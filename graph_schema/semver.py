"""Semantic versions of metric definitions (``MAJOR.MINOR.PATCH``, https://semver.org).

Seed 001 (第六步 版本管理): "大版本…小版本…补丁版本" — a major version for a changed
calculation, a minor one for added dimensions and the like, a patch for wording.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from core.i18n import N_, _

_SEMVER_RE = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?\Z"
)

HINT = N_('write MAJOR.MINOR.PATCH, e.g. 1.1.0 (quote it in YAML: version: "1.0.0")')


class Semver(NamedTuple):
    major: int
    minor: int
    patch: int
    pre: str | None = None

    def __str__(self) -> str:
        core = f"{self.major}.{self.minor}.{self.patch}"
        return f"{core}-{self.pre}" if self.pre else core

    def sort_key(self) -> tuple[int, int, int, int, str]:
        """A release sorts after its pre-releases (``1.0.0-rc.1 < 1.0.0``)."""
        return (self.major, self.minor, self.patch, 0 if self.pre else 1, self.pre or "")


def parse_semver(text: str) -> Semver:
    """Parse ``MAJOR.MINOR.PATCH[-pre][+build]``; build metadata is dropped.

    Raises
    ------
    ValueError
        When ``text`` is not a semantic version.

    Examples
    --------
    >>> parse_semver("1.1.0")
    Semver(major=1, minor=1, patch=0, pre=None)
    >>> str(parse_semver("2.0.0-rc.1+build.5"))
    '2.0.0-rc.1'
    >>> from core.i18n import use
    >>> with use("en"):
    ...     parse_semver("banana")
    Traceback (most recent call last):
    ...
    ValueError: 'banana' is not a semantic version
    """
    match = _SEMVER_RE.match(text.strip()) if isinstance(text, str) else None
    if match is None:
        raise ValueError(_("{text} is not a semantic version", text=repr(text)))
    major, minor, patch, pre, _build = match.groups()
    return Semver(int(major), int(minor), int(patch), pre)


def is_semver(text: str) -> bool:
    """Whether ``text`` is a semantic version.

    Examples
    --------
    >>> is_semver("1.0.0"), is_semver("1.0"), is_semver("v1.0.0")
    (True, False, False)
    """
    try:
        parse_semver(text)
    except ValueError:
        return False
    return True


def compare(a: str, b: str) -> int:
    """-1, 0 or 1 as ``a`` is older than, equal to or newer than ``b``.

    Examples
    --------
    >>> compare("1.2.0", "1.10.0"), compare("2.0.0", "2.0.0"), compare("2.0.0", "2.0.0-rc.1")
    (-1, 0, 1)
    """
    ka, kb = parse_semver(a).sort_key(), parse_semver(b).sort_key()
    return (ka > kb) - (ka < kb)


def bump(version: str, part: str) -> str:
    """The next version for a change of class ``part`` (``major``, ``minor`` or ``patch``).

    Examples
    --------
    >>> bump("1.1.0", "major"), bump("1.1.3", "minor"), bump("1.1.0", "patch")
    ('2.0.0', '1.2.0', '1.1.1')
    >>> bump("2.0.0-rc.1", "major")
    '2.0.0'
    """
    v = parse_semver(version)
    if part == "major":
        return f"{v.major + (0 if v.pre and v.minor == v.patch == 0 else 1)}.0.0"
    if part == "minor":
        return f"{v.major}.{v.minor + (0 if v.pre and v.patch == 0 else 1)}.0"
    if part == "patch":
        return f"{v.major}.{v.minor}.{v.patch + (0 if v.pre else 1)}"
    raise ValueError(_("unknown change class {part}; use major, minor or patch", part=repr(part)))


def check_semver(value: str | None) -> str | None:
    """Pydantic validator: ``None`` passes, a semantic version passes normalised, else an error
    whose message says what to write.

    Examples
    --------
    >>> check_semver(" 1.0.0 ")
    '1.0.0'
    """
    if value is None:
        return None
    try:
        parse_semver(value)
    except ValueError:
        raise ValueError(
            _("{value} is not a semantic version; {hint}", value=repr(value), hint=_(HINT))
        ) from None
    return value.strip()
