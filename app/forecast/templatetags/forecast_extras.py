"""Template filters that put the forecast's numbers into words."""

from django import template

register = template.Library()


@register.filter
def certainty(confidence: float) -> str:
    """A prediction's confidence (0 to 1) as a person would say it."""
    if confidence >= 0.8:
        return "quite sure"
    if confidence >= 0.6:
        return "fairly sure"
    return "not very sure"
