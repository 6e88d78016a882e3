"""The local server (`brace server`): one port, four wings, one process.

  gateway/   the inference hot path: an HTTP/1.1 reverse proxy to the replicas
  control/   the control loop and its pure decisions: replicas, rollouts, autoscaling
  backends/  where replicas run: fork servers and new interpreters on this machine
  metrics/   /metrics, request statistics, latency sketches, usage
  api/       Baseten's management REST API (Starlette, on the internal app)
  app        the internal app: the API, /metrics, /healthz and the console, on a Unix
             socket the gateway forwards to
  main       wires the wings together and runs them on one event loop
  claim, paths, record, storeworker, storewatch
             one server per home, its files, its record, its store thread, the
             signal that another connection committed to the store

docs/architecture.md is the map: what flows between the wings and what may import what.
"""
