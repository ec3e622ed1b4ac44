"""The cache on Redis, failing soft.

The cache only holds what can be rebuilt (the curriculum rules, allauth's rate-limit
counters), so while Redis is unreachable it behaves as an empty cache that keeps nothing:
reads miss, writes are dropped, and pages keep working from the database instead of
failing. After a failure it leaves Redis alone for ``RETRY_AFTER`` seconds, so that a Redis
that hangs does not cost every request a connection timeout. Rate limits are not enforced
while Redis is down (they fail open); the outage is logged.
"""

from __future__ import annotations

import logging
import time

from django.core.cache.backends.base import DEFAULT_TIMEOUT
from django.core.cache.backends.redis import RedisCache
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError

logger = logging.getLogger(__name__)

UNREACHABLE = (RedisConnectionError, RedisTimeoutError)
RETRY_AFTER = 5.0  # seconds


class FailSoftRedisCache(RedisCache):
    # Shared by the process's threads (each has its own cache object).
    _down_until = 0.0

    def _soft(self, fallback, method: str, *args, **kwargs):
        cls = type(self)
        if cls._down_until and time.monotonic() < cls._down_until:
            return fallback
        try:
            result = getattr(super(), method)(*args, **kwargs)
        except UNREACHABLE as exc:
            if not cls._down_until:
                logger.warning("Redis cache unreachable; working without it: %s", exc)
            cls._down_until = time.monotonic() + RETRY_AFTER
            return fallback
        if cls._down_until:
            logger.warning("Redis cache reachable again")
            cls._down_until = 0.0
        return result

    def get(self, key, default=None, version=None):
        return self._soft(default, "get", key, default, version)

    def add(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        # An empty cache accepts the key (allauth's rate-limit lock needs that to go on).
        return self._soft(True, "add", key, value, timeout, version)

    def set(self, key, value, timeout=DEFAULT_TIMEOUT, version=None):
        return self._soft(None, "set", key, value, timeout, version)

    def touch(self, key, timeout=DEFAULT_TIMEOUT, version=None):
        return self._soft(False, "touch", key, timeout, version)

    def delete(self, key, version=None):
        return self._soft(False, "delete", key, version)

    def get_many(self, keys, version=None):
        return self._soft({}, "get_many", keys, version)

    def has_key(self, key, version=None):
        return self._soft(False, "has_key", key, version)

    def incr(self, key, delta=1, version=None):
        result = self._soft(None, "incr", key, delta, version)
        if result is None:
            raise ValueError(f"Key '{key}' not found")  # as from an empty cache
        return result

    def set_many(self, data, timeout=DEFAULT_TIMEOUT, version=None):
        return self._soft(list(data), "set_many", data, timeout, version)

    def delete_many(self, keys, version=None):
        return self._soft(None, "delete_many", keys, version)

    def clear(self):
        return self._soft(None, "clear")
