"""Baseten's management REST API, served by `brace server` under `/v1`.

Scripts written for Baseten's API work against the local server with only the base
URL and the key changed. In the order a request meets them:

  auth      the API key on every /v1 path (401 without it)
  bodies    JSON bodies checked at the boundary, errors naming the field
  routes    one handler per path, each one call to `brace.services`, in a thread
  trussclient  the paths Truss's own client calls beyond those: log search, config,
            download, secrets (downloads: the signed archive links)
  errors    a refusal from the services as JSON {"error", "error_code"} with its status
  spec      the OpenAPI document of these paths (GET /v1/spec)
  schemas   the JSON schemas of its bodies and answers
"""
