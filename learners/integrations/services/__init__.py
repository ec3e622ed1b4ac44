"""Writes of the integrations app, one module per responsibility: ``api_keys`` (create,
authenticate, revoke), ``intake`` (storing a webhook delivery), ``processing`` (turning an
event into a completion) and ``replay`` (events handed to a worker again). The API's
learner upsert is ``learners.integrations.upsert``, a layer above the roster it reuses."""
