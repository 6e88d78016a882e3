"""What the server measures, for people and for the rollout's automatic rollback.

  endpoint     `GET /metrics` (Prometheus text) and `GET /brace/stats` on the internal app
  scrape       what one scrape reports, read at one moment
  exposition   one scrape as Prometheus text
  stats        request rate, errors and latency over a window, from two counter snapshots
  sketch       latency quantiles with a bounded relative error
  usage        replica-seconds and requests per deployment and day, kept in the store

The counting itself happens on the hot path, in `gateway.counters`.
"""
