"""`brace watch`: the live-reload loop on a model's development deployment.

The CLI (brace/cli/push.py) pushes the development deployment, makes sure the server
runs, and hands over to the `Watcher`, which applies every saved change to the running
replica and reports it. Modules:

  classify  what a changed path or config field needs (pure, table-tested)
  watcher   the loop: watchfiles' batches in, reloads and replacements out
  replica   POST /brace/reload on a replica's Unix socket, and what its answer means
  target    the development deployment in the store: state, push, wait for a revision
  logtail   following the deployment's log file while the loop runs
  events    what the loop reports, as a line of text or a JSON object

The replica's side of a reload (evict the user's modules, import the new code, swap)
lives in brace/runtime/reload.py. Nothing here imports Typer or Rich.
"""
