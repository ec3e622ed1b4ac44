from tests.learners.nudges.conftest import redis_broker_url  # noqa: F401 - fixture used here
