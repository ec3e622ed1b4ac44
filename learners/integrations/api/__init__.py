"""The REST API (``/api/v1/``): Django REST framework views over the same services and
selectors as the site, authenticated by API keys, errors as RFC 9457 problem details."""
