"""Insights for instructors: where learners get stuck (the level and module funnels, stuck
points, never-started learners) and a student's own pace.

- ``rules``: the figures from plain data (no Django), tested against hand-built cohorts.
- ``pace``: a student's pace and the date it points to (no Django).
- ``selectors``: the plain data read from the database in a fixed number of queries, and the
  learner sets behind each figure (the learner list's filters use them).
"""
