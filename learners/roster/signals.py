"""What the roster tells the apps that care, without knowing them.

The roster is part of the core and imports no app; an app that must act on an import
(integrations replays the platform events that arrived before these learners) connects a
receiver in its ``AppConfig.ready()``, as ``learners`` does for ``curriculum.signals``.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent inside the import's transaction with ``emails``: the addresses of the learners the
# import created. A receiver defers its side effects to after the commit.
learners_imported = Signal()
