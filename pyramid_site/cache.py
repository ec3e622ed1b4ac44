"""The cache backend: django-redis, with its IGNORE_EXCEPTIONS option on (settings.CACHES).

One change to it. While Redis is unreachable, django-redis answers ``add`` with None, as if
the key were taken; allauth's rate limits take a lock with ``cache.add`` and retry it for a
second before refusing the request, so every sign-in, signup and password reset would wait
a second and get a 429 until Redis is back. Here ``add`` answers True instead, as an empty
cache would: rate limits fail open while Redis is down (README, Configuration).
"""

from __future__ import annotations

from django_redis.cache import RedisCache as DjangoRedisCache
from django_redis.cache import omit_exception


class RedisCache(DjangoRedisCache):
    @omit_exception(return_value=True)
    def add(self, *args, **kwargs):
        return self.client.add(*args, **kwargs)
