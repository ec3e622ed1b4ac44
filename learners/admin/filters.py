"""The learner list's filters, and links to the list filtered by them."""

from __future__ import annotations

from datetime import date, timedelta
from urllib.parse import urlencode

from django.contrib import admin
from django.db.models import F
from django.urls import reverse
from django.utils import timezone

from curriculum.selectors import curriculum_rules

from ..insights.rules import MODULE_PREFIX
from ..insights.selectors import learners_joined, learners_never_started, learners_stuck_at
from ..models import (
    LevelChange,
    ModuleProgress,
)
from ..nudges.api import NUDGE_DAYS, Nudge, NudgeKind
from ..selectors import (
    INACTIVE_DAYS,
    LEVEL_CHANGE_DAYS,
    inactive_since_q,
)

# The largest number of days a filter accepts (a hand-edited URL may say anything).
MAX_FILTER_DAYS = 36500


def small_int(value: str | None, maximum: int) -> int | None:
    """``value`` as a number from 0 to ``maximum``, or None: a hostile URL (huge numbers,
    non-ASCII digits such as "²") is ignored, never a 500."""
    if value and value.isascii() and value.isdigit() and len(value) <= len(str(maximum)):
        number = int(value)
        return number if number <= maximum else None
    return None


def learner_list_url(**params) -> str:
    """The learner changelist filtered by ``params`` (the admin's own query parameters)."""
    url = reverse("admin:learners_learner_changelist")
    return f"{url}?{urlencode(params)}" if params else url


class LevelFilter(admin.SimpleListFilter):
    """By level, which is also by stage: the stage serving a level holds the modules its
    learners work on, so each choice names both (one filter, not two that agree)."""

    title = "level and stage"
    parameter_name = "level"

    def lookups(self, request, model_admin):
        rules = curriculum_rules()
        stages = {stage.serves_level: stage.name for stage in rules.stages}
        return [
            (str(n), f"{n} {name}" + (f" · {stages[n]} stage" if n in stages else ""))
            for n, name in rules.level_names.items()
        ]

    def queryset(self, request, queryset):
        level = small_int(self.value(), 4)
        if level is not None:
            return queryset.filter(level=level)
        return queryset


class CompletedModuleFilter(admin.SimpleListFilter):
    title = "completed module"
    parameter_name = "module"

    def lookups(self, request, model_admin):
        return [(str(n), f"{n} {title}") for n, title in curriculum_rules().module_titles.items()]

    def queryset(self, request, queryset):
        number = small_int(self.value(), 9)
        if number is not None:
            done = ModuleProgress.objects.filter(module__number=number)
            return queryset.filter(pk__in=done.values("learner_id"))
        return queryset


class InactivityFilter(admin.SimpleListFilter):
    title = "activity"
    parameter_name = "inactive"

    def lookups(self, request, model_admin):
        return [
            (str(INACTIVE_DAYS), f"Inactive {INACTIVE_DAYS}+ days"),
            ("30", "Inactive 30+ days"),
        ]

    def queryset(self, request, queryset):
        days = small_int(self.value(), MAX_FILTER_DAYS)
        if days is not None:
            cutoff = timezone.now() - timedelta(days=days)
            return queryset.filter(inactive_since_q(cutoff))
        return queryset


class OptOutFilter(admin.SimpleListFilter):
    title = "nudge emails"
    parameter_name = "opted_out"

    def lookups(self, request, model_admin):
        return [("yes", "Opted out"), ("no", "Receiving")]

    def queryset(self, request, queryset):
        if self.value() in ("yes", "no"):
            return queryset.filter(nudges_enabled=self.value() == "no")
        return queryset


class LevelChangedFilter(admin.SimpleListFilter):
    title = "level changed"
    parameter_name = "level_changed"

    def lookups(self, request, model_admin):
        return [
            (f"{LEVEL_CHANGE_DAYS}", f"In the last {LEVEL_CHANGE_DAYS} days"),
            (f"{LEVEL_CHANGE_DAYS}.up", f"Went up, last {LEVEL_CHANGE_DAYS} days"),
            (f"{LEVEL_CHANGE_DAYS}.down", f"Went down, last {LEVEL_CHANGE_DAYS} days"),
        ]

    def queryset(self, request, queryset):
        value, _, direction = (self.value() or "").partition(".")
        days = small_int(value, MAX_FILTER_DAYS)
        if days is None:
            return queryset
        # A first placement (no "from") is where a learner starts, not a change of level.
        changes = LevelChange.objects.filter(
            changed_at__gte=timezone.now() - timedelta(days=days), from_level__isnull=False
        )
        if direction == "up":
            changes = changes.filter(to_level__gt=F("from_level"))
        elif direction == "down":
            changes = changes.filter(to_level__lt=F("from_level"))
        return queryset.filter(pk__in=changes.values("learner_id"))


class NudgedFilter(admin.SimpleListFilter):
    """Learners nudged in the last days; the value is a kind, or ``kind.status``."""

    title = f"nudged (last {NUDGE_DAYS} days)"
    parameter_name = "nudged"

    def lookups(self, request, model_admin):
        return list(NudgeKind.choices)

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        kind, _, status = self.value().partition(".")
        nudges = Nudge.objects.filter(
            kind=kind, created_at__gte=timezone.now() - timedelta(days=NUDGE_DAYS)
        )
        if status:
            nudges = nudges.filter(status=status)
        return queryset.filter(pk__in=nudges.values("learner_id"))


class ProgressFilter(admin.SimpleListFilter):
    """Never started (imported or invited, no self-assessment or nothing ticked), or started."""

    title = "progress"
    parameter_name = "progress"

    def lookups(self, request, model_admin):
        return [
            ("never", "Never started"),
            ("no_assessment", "No self-assessment"),
            ("no_tick", "Self-assessed, nothing ticked"),
            ("started", "Started"),
        ]

    def queryset(self, request, queryset):
        if self.value():
            return learners_never_started(queryset, self.value())
        return queryset


class _ShownWhenUsed(admin.SimpleListFilter):
    """A filter the insights page links to: listed in the sidebar only while it is in use."""

    def lookups(self, request, model_admin):
        value = self.value()
        return [(value, self.label(value))] if value else []

    def label(self, value: str) -> str:
        raise NotImplementedError


class StuckPointFilter(_ShownWhenUsed):
    """Exactly the learners of one stuck point of the insights page."""

    title = "stuck point"
    parameter_name = "stuck"

    def label(self, value: str) -> str:
        if value.startswith(MODULE_PREFIX):
            return f"Stuck after module {value[1:]}"
        return f"Stuck after key {value[1:]}"

    def queryset(self, request, queryset):
        if self.value():
            return learners_stuck_at(queryset, self.value())
        return queryset


class JoinedFilter(_ShownWhenUsed):
    """Joined between two dates, ``YYYY-MM-DD~YYYY-MM-DD`` (either side may be empty)."""

    title = "joined"
    parameter_name = "joined"

    def label(self, value: str) -> str:
        start, _, end = value.partition("~")
        return f"Joined {start or '…'} to {end or '…'}"

    def queryset(self, request, queryset):
        if not self.value():
            return queryset
        dates = parse_date_range(self.value())
        if dates is None:
            return queryset.none()
        return learners_joined(queryset, *dates)


def parse_date_range(value: str) -> tuple[date | None, date | None] | None:
    """``"2026-01-01~2026-03-31"`` -> two dates (either may be None); None if malformed."""
    start, sep, end = value.partition("~")
    try:
        dates = tuple(date.fromisoformat(part) if part else None for part in (start, end))
    except ValueError:
        return None
    return dates if sep or not end else None
