from __future__ import annotations

from django.apps import AppConfig


class PyramidSiteConfig(AppConfig):
    """The site itself: owns the system checks of the settings the project depends on."""

    name = "pyramid_site"
    verbose_name = "Profit Pyramid site"

    def ready(self) -> None:
        # The checks register on import.
        from django.core.signals import request_finished

        from . import checks, health  # noqa: F401 - health records beat's sweeps
        from .logs import request_finished_clear

        request_finished.connect(request_finished_clear, dispatch_uid="logs.request_id_clear")
