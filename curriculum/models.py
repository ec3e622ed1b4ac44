"""The curriculum as data: loaded from the framework document, editable in the admin."""

from __future__ import annotations

from decimal import Decimal

from django.core.validators import MaxValueValidator, MinValueValidator
from django.db import models, transaction
from django.db.models import Q


class CurriculumQuerySet(models.QuerySet):
    """Writes that send no model signal (``update``, ``delete`` of a queryset, the bulk
    ones) drop the cached rules too, as a ``save`` does (``curriculum.apps``): every write
    through the ORM is seen at once, not after the cache's timeout."""

    def update(self, **kwargs):
        rows = super().update(**kwargs)
        _rules_changed()
        return rows

    def delete(self):
        deleted = super().delete()
        _rules_changed()
        return deleted

    def bulk_create(self, *args, **kwargs):
        created = super().bulk_create(*args, **kwargs)
        _rules_changed()
        return created

    def bulk_update(self, *args, **kwargs):
        rows = super().bulk_update(*args, **kwargs)
        _rules_changed()
        return rows


def _rules_changed() -> None:
    from .selectors import curriculum_rules_forget

    # Now, and again once the write is committed (a reader in between may have cached the
    # rules as they were before it).
    curriculum_rules_forget()
    transaction.on_commit(curriculum_rules_forget)


class CurriculumModel(models.Model):
    objects = CurriculumQuerySet.as_manager()

    class Meta:
        abstract = True


class Track(CurriculumModel):
    slug = models.SlugField(max_length=32, unique=True)
    name = models.CharField(max_length=120)
    currency_metric = models.CharField(
        max_length=120, help_text="What places a learner: e.g. annual total compensation."
    )
    graduation_threshold = models.DecimalField(
        max_digits=3,
        decimal_places=2,
        default=Decimal("0.80"),
        validators=[MinValueValidator(Decimal("0.01")), MaxValueValidator(Decimal("1.00"))],
        help_text="Share of a level's keys (0.01-1.00) a learner completes to graduate it.",
    )
    order = models.PositiveSmallIntegerField(default=0)

    class Meta:
        ordering = ["order", "slug"]
        constraints = [
            models.CheckConstraint(
                condition=Q(graduation_threshold__gt=0) & Q(graduation_threshold__lte=1),
                name="track_threshold_0_1",
            )
        ]

    def __str__(self) -> str:
        return self.name


class Level(CurriculumModel):
    number = models.PositiveSmallIntegerField(
        unique=True, validators=[MinValueValidator(1), MaxValueValidator(4)]
    )
    name = models.CharField(max_length=40)
    description = models.CharField(max_length=200)
    # The document's "Focus" line offers two alternative headlines ("A" or "B"), one for each
    # track; the emails use the track's own (``TrackLevel.headline``).
    headline_a = models.CharField("headline A", max_length=200, blank=True)
    headline_b = models.CharField("headline B", max_length=200, blank=True)
    pain = models.TextField(blank=True)
    promise = models.TextField(blank=True)
    offer = models.TextField(blank=True)

    class Meta:
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(
                condition=Q(number__gte=1) & Q(number__lte=4), name="level_number_1_4"
            )
        ]

    def __str__(self) -> str:
        return f"{self.number} {self.name}"


class TrackLevel(CurriculumModel):
    """One level of one track: its band of the currency figure and the document's texts."""

    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="track_levels")
    level = models.ForeignKey(Level, on_delete=models.PROTECT, related_name="track_levels")
    min_amount = models.PositiveBigIntegerField(help_text="Band start in USD (inclusive).")
    max_amount = models.PositiveBigIntegerField(
        null=True, blank=True, help_text="Band end in USD (exclusive); blank for no upper end."
    )
    heading_range = models.CharField(max_length=120, blank=True)
    currency_metric = models.CharField(max_length=200, blank=True)
    symptoms_heading = models.CharField(max_length=120, blank=True)
    keys_heading = models.CharField(max_length=120, blank=True)
    module_alignment = models.CharField(max_length=200, blank=True)
    self_assessment_summary = models.CharField(
        max_length=300, blank=True, help_text="The document's 'Your Level' line."
    )
    headline = models.CharField(
        max_length=200,
        blank=True,
        help_text="The level's headline in this track's emails (the document's “Focus” line "
        "offers one per track).",
    )

    class Meta:
        ordering = ["track", "level__number"]
        verbose_name = "band"
        constraints = [
            models.UniqueConstraint(fields=["track", "level"], name="tracklevel_unique"),
            models.CheckConstraint(
                condition=Q(max_amount__isnull=True) | Q(max_amount__gt=models.F("min_amount")),
                name="tracklevel_band_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.track.slug} {self.level.name}"


class Stage(CurriculumModel):
    name = models.CharField(max_length=60, unique=True)
    order = models.PositiveSmallIntegerField(unique=True)
    summary = models.CharField(max_length=200, blank=True)
    serves_level = models.OneToOneField(
        Level,
        on_delete=models.PROTECT,
        related_name="serving_stage",
        help_text="The level this stage moves learners up from.",
    )
    description = models.TextField(blank=True, help_text="One bullet per line.")

    class Meta:
        ordering = ["order"]

    def __str__(self) -> str:
        return self.name

    @property
    def bullets(self) -> list[str]:
        return [line for line in self.description.splitlines() if line.strip()]


class Module(CurriculumModel):
    number = models.PositiveSmallIntegerField(
        unique=True, validators=[MinValueValidator(1), MaxValueValidator(9)]
    )
    title = models.CharField(max_length=120)
    stage = models.ForeignKey(Stage, on_delete=models.PROTECT, related_name="modules")
    course_url = models.URLField(
        blank=True,
        help_text="Where the module's lessons are (the course platform); the progress page's "
        "“Continue” action leads there.",
    )

    class Meta:
        ordering = ["number"]
        constraints = [
            models.CheckConstraint(
                condition=Q(number__gte=1) & Q(number__lte=9), name="module_number_1_9"
            )
        ]

    def __str__(self) -> str:
        return f"Module {self.number}: {self.title}"


class Symptom(CurriculumModel):
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="symptoms")
    level = models.ForeignKey(Level, on_delete=models.PROTECT, related_name="symptoms")
    order = models.PositiveSmallIntegerField()
    text = models.TextField()
    depth = models.PositiveSmallIntegerField(default=0, help_text="0 = bullet, 1 = nested")

    class Meta:
        ordering = ["track", "level__number", "order"]
        constraints = [
            models.UniqueConstraint(fields=["track", "level", "order"], name="symptom_unique")
        ]

    def __str__(self) -> str:
        return self.text


class Key(CurriculumModel):
    """A key to success: one actionable step of a track's level."""

    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="keys")
    level = models.ForeignKey(Level, on_delete=models.PROTECT, related_name="keys")
    order = models.PositiveSmallIntegerField()
    code = models.SlugField(max_length=40, unique=True)
    verb = models.CharField(max_length=40)
    text = models.TextField()
    modules = models.ManyToManyField(
        Module,
        blank=True,
        related_name="keys",
        help_text="A key linked to modules is done exactly when all of them are completed.",
    )

    class Meta:
        ordering = ["track", "level__number", "order"]
        verbose_name = "key to success"
        verbose_name_plural = "keys to success"
        constraints = [
            models.UniqueConstraint(fields=["track", "level", "order"], name="key_unique_order")
        ]

    def __str__(self) -> str:
        return f"{self.code}: {self.full_text}"

    @property
    def full_text(self) -> str:
        return f"{self.verb} {self.text}"


class SuccessMetric(CurriculumModel):
    track = models.ForeignKey(Track, on_delete=models.CASCADE, related_name="success_metrics")
    from_level = models.ForeignKey(Level, on_delete=models.PROTECT, related_name="+")
    order = models.PositiveSmallIntegerField()
    text = models.TextField()
    gate_amount = models.PositiveBigIntegerField(
        "income gate (USD)",
        null=True,
        blank=True,
        help_text="Progress lifts a learner across this transition only when their currency "
        "figure (compensation or MRR) is at least this amount. Blank: no income condition.",
    )

    class Meta:
        ordering = ["track", "from_level__number", "order"]
        constraints = [
            models.UniqueConstraint(
                fields=["track", "from_level", "order"], name="successmetric_unique"
            )
        ]

    def __str__(self) -> str:
        return self.text


class SelfAssessmentQuestion(CurriculumModel):
    track = models.ForeignKey(
        Track, on_delete=models.CASCADE, related_name="self_assessment_questions"
    )
    order = models.PositiveSmallIntegerField()
    text = models.TextField()

    class Meta:
        ordering = ["track", "order"]
        constraints = [models.UniqueConstraint(fields=["track", "order"], name="question_unique")]

    def __str__(self) -> str:
        return self.text
