"""The nudge tasks' registered names, declared once: the tasks, beat's schedule (settings)
and the readiness check (which notes when the sweep last ran) read them here. Plain Python,
so the settings can import it before Django is set up."""

SEND_CHUNK = "nudges.send_chunk"
SWEEP = "nudges.sweep"
HAND_PENDING = "nudges.hand_pending"
