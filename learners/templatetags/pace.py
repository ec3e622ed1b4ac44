"""``{% learner_pace learner %}``: the student's own pace, when their history allows it."""

from __future__ import annotations

from django import template

from ..insights.selectors import learner_pace

register = template.Library()


@register.inclusion_tag("learners/includes/pace.html")
def learner_pace_line(learner, keys_done: int, keys: int) -> dict:
    """``keys_done`` of ``keys``: the page's own count, so the sentence agrees with it."""
    return {"pace": learner_pace(learner, remaining=keys - keys_done)}
