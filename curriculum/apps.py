from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_save


class CurriculumConfig(AppConfig):
    default_auto_field = "django.db.models.BigAutoField"
    name = "curriculum"

    def ready(self) -> None:
        # The placement rule reads a cached copy of the curriculum; any write to it (admin,
        # load_curriculum) must drop that copy. Cache invalidation only, no domain flow.
        from .selectors import curriculum_rules_forget

        def forget(**kwargs) -> None:
            curriculum_rules_forget()

        for model in self.get_models():
            post_save.connect(
                forget, sender=model, dispatch_uid=f"curriculum-forget-save-{model.__name__}"
            )
            post_delete.connect(
                forget, sender=model, dispatch_uid=f"curriculum-forget-del-{model.__name__}"
            )
        from .models import Key

        m2m_changed.connect(
            forget, sender=Key.modules.through, dispatch_uid="curriculum-forget-m2m"
        )
        self._forget = forget  # keep a strong reference (signals hold weak ones)
