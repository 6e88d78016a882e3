"""The web console: plain HTML pages served by `brace server` at `/` and `/console/...`.

The pages read what the management API and `/metrics` read (the store through the
internal app's worker thread, the gateway's counters, the controller's replicas) and
act through the same services (`brace.services`), so a refusal reads the same in the
console, the CLI and the API. docs/console.md describes it for users. Modules:

  sessions      sign-in with the API key, session and CSRF tokens
  guard         the cross-site checks, pure
  live          what the running server lends the console
  data          the figures each page shows
  html          the pages as HTML, and the parts they are built from
  html_model    the model page
  html_rollout  the rollout view
  handling      what every handler uses: the app's parts, the responses
  routes        the paths, the sign-in and the pages
  events        live updates by server-sent events
  actions       every state change
"""
