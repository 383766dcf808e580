"""Text prompts of the classes: "A picture of a/an <class name>." from configurable templates.

>>> prompt("A picture of {a} {name}.", "edge_on_with_bulge")
'A picture of an edge-on galaxy with a bulge.'
"""

from __future__ import annotations

from collections.abc import Sequence

CLASS_TEXT: dict[str, str] = {
    "disturbed": "disturbed galaxy",
    "merging": "merging galaxy",
    "round_smooth": "round smooth galaxy",
    "in_between_round_smooth": "in-between round smooth galaxy",
    "cigar_shaped_smooth": "cigar-shaped smooth galaxy",
    "barred_spiral": "barred spiral galaxy",
    "unbarred_tight_spiral": "unbarred tight spiral galaxy",
    "unbarred_loose_spiral": "unbarred loose spiral galaxy",
    "edge_on_without_bulge": "edge-on galaxy without a bulge",
    "edge_on_with_bulge": "edge-on galaxy with a bulge",
}
"""What the prompts call each Galaxy10 class (the names GalaxAlign's prompts use)."""


def article(text: str) -> str:
    """'an' before a vowel sound, else 'a' (by the first letter: enough for the class names)."""
    return "an" if text[:1].lower() in "aeiou" else "a"


def prompt(template: str, class_name: str) -> str:
    """``template`` with ``{name}`` replaced by the class's text and ``{a}`` by its article."""
    text = CLASS_TEXT.get(class_name, class_name.replace("_", " "))
    return template.replace("{a}", article(text)).replace("{name}", text)


def class_prompts(classes: Sequence[str], templates: Sequence[str]) -> list[list[str]]:
    """Prompts as rows of templates × columns of classes."""
    return [[prompt(template, name) for name in classes] for template in templates]
