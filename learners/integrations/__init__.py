"""Integrations: the REST API's keys and inbound webhooks from course platforms.

The Django app ``integrations``: API keys (``models.ApiKey``), platform connections with
their course/lesson -> module mappings, and every webhook delivery as an event. The API
lives in ``api/`` (Django REST framework), the receiver in ``views``, the work in
``services/`` and the reads in ``selectors``.
"""
