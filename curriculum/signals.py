"""The one way a curriculum edit reaches the apps that place learners against it.

``curriculum`` knows nothing of learners: the admin sends ``placement_rules_changed`` after
an edit that changes placement (a band, a threshold, a key's level or modules, a module's
stage, a stage's level), and the learners app, which connects a receiver in its
``AppConfig.ready()``, schedules the recompute.
"""

from __future__ import annotations

from django.dispatch import Signal

# Sent with ``track_ids`` (the tracks whose learners are affected) and ``everyone`` (a
# change that affects every learner). Each receiver schedules its work for after the
# commit and returns how many learners it affects, so that the admin can say so.
placement_rules_changed = Signal()
