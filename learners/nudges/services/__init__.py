"""Writes for nudges, one module per responsibility; callers import from the owner.

- ``ledger``: the ledger rows a sweep, a level change, a confirmed address or an instructor
  creates (never two per learner, kind and dedup key).
- ``handoff``: handing new rows to workers after commit; the frequent pass for rows that
  never reached one.
- ``sweep``: the hourly sweep over every learner.
- ``sending``: a worker's chunk over one SMTP connection, each row claimed right before
  its message goes out.
- ``unsubscribe``: the one-click unsubscribe.

Never twice: a row is unique per (learner, kind, dedup key); a worker sends a row only after
claiming it (pending -> sending, a conditional update one worker wins), and a row left in
``sending`` (the SMTP server may have accepted it) is never sent again by the machinery.
Never lost: a row is claimed only right before its message goes to the SMTP server, so a
worker killed mid-chunk leaves in ``sending`` at most the message it was handing over, and
the rest pending.
"""
