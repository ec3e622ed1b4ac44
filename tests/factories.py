from __future__ import annotations

import factory
from django.utils import timezone

from curriculum.models import Track
from learners.models import Cohort, Learner, User


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = User
        django_get_or_create = ("email",)

    email = factory.Sequence(lambda n: f"learner{n}@example.com")
    first_name = factory.Faker("first_name")
    last_name = factory.Faker("last_name")
    password = factory.django.Password("correct-horse-battery-staple")


class CohortFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Cohort
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Cohort {n}")
    start_date = factory.LazyFunction(lambda: timezone.now().date())


class LearnerFactory(factory.django.DjangoModelFactory):
    """A learner without a self-assessment; see the traits for engineers and founders."""

    class Meta:
        model = Learner

    user = factory.SubFactory(UserFactory)
    timezone = "UTC"

    class Params:
        engineer = factory.Trait(
            track=factory.LazyFunction(lambda: Track.objects.get(slug="engineer")),
            assessment_submitted_at=factory.LazyFunction(timezone.now),
            annual_compensation=160_000,
            can_explain_concepts=True,
            can_implement_from_scratch=False,
            deployed_at_scale=False,
            seen_as="integrator",
            leads_initiatives=False,
        )
        founder = factory.Trait(
            track=factory.LazyFunction(lambda: Track.objects.get(slug="founder")),
            assessment_submitted_at=factory.LazyFunction(timezone.now),
            monthly_recurring_revenue=20_000,
            monthly_api_cost=5_000,
            owns_model_weights=False,
            replicable_by_competitors=True,
            investor_fundable=False,
        )


# The self-assessment form (/profile/) filled in validly, as a browser posts it.
ENGINEER_ANSWERS = {
    "track": "engineer",
    "annual_compensation": "160,000",
    "can_explain_concepts": "yes",
    "can_implement_from_scratch": "no",
    "deployed_at_scale": "no",
    "seen_as": "integrator",
    "leads_initiatives": "no",
    "timezone": "Europe/Paris",
    "nudges_enabled": "on",
}
FOUNDER_ANSWERS = {
    "track": "founder",
    "monthly_recurring_revenue": "80000",
    "monthly_api_cost": "20000",
    "owns_model_weights": "no",
    "replicable_by_competitors": "yes",
    "investor_fundable": "no",
    "timezone": "America/New_York",
}


def engineer_answers(**over) -> dict:
    """A Surviving engineer's self-assessment, as the services take it."""
    answers = {
        "annual_compensation": 160_000,
        "can_explain_concepts": True,
        "can_implement_from_scratch": False,
        "deployed_at_scale": False,
        "seen_as": "integrator",
        "leads_initiatives": False,
    }
    return {**answers, **over}
