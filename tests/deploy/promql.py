"""The metric and label names a PromQL expression reads (enough for our rules and panels)."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

_STRING = re.compile(r'"(?:[^"\\]|\\.)*"')
_RANGE = re.compile(r"\[[^\]]*\]")
_SELECTOR = re.compile(r"\{([^}]*)\}")
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\(([^)]*)\)")
_IDENTIFIER = re.compile(r"(?<![\w$.])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w.])")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring"}
_KEYWORDS |= {"group_left", "group_right", "inf", "nan"}


@dataclass
class Names:
    metrics: set[str] = field(default_factory=set)
    labels: set[str] = field(default_factory=set)


def names(expression: str) -> Names:
    """Metric names (selectors) and label names (matchers, grouping) in `expression`."""
    found = Names()
    text = _RANGE.sub(" ", expression)
    for matchers in _SELECTOR.findall(_STRING.sub('""', text)):
        for matcher in filter(str.strip, matchers.split(",")):
            found.labels.add(matcher.split("=")[0].rstrip("!~ ").strip())
    text = _SELECTOR.sub(" ", _STRING.sub('""', text))
    for grouping in _GROUPING.findall(text):
        found.labels |= {label.strip() for label in grouping.split(",") if label.strip()}
    text = _GROUPING.sub(" ", text)
    for match in _IDENTIFIER.finditer(text):
        name = match.group(1)
        following = text[match.end() :].lstrip()
        if following.startswith("(") or name.lower() in _KEYWORDS:
            continue  # a function or an operator
        found.metrics.add(name)
    return found
