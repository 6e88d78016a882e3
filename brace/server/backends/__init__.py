"""Where replicas run: the processes behind the controller's replicas.

base         the seam: `Backend` launches a replica (`Launch`) and returns a
             `ReplicaHandle` (address, ready and exit signals, stop, kill); an
             address is a Unix socket path or `host:port`
local        the `local` backend: replicas forked by a fork server, or new interpreters
supervisor   start a replica as a new interpreter, probe it, stop it (TERM, wait, KILL)
forked       a replica forked by a fork server (its pid comes with the fork's reply)
forkserver   the server's end of a fork server: replicas forked from a process that
             has already imported brace, Starlette and uvicorn
forkservers  brace's own fork server, and one per model environment that preloads
             the model's third-party imports
cluster      the `ray` backend: replicas on a Ray cluster's nodes (docs/scale-out.md)
placement    which node a replica goes to (spread, resources), pure
agent        the per-node Ray actor that keeps models and starts replicas there
nodeforks    the agent's client of a fork server on its node
reservation  Ray's record of a remote replica's resources (a placement group)
remote       a replica on a node, as the server holds it
rayapi       the Ray module, imported only when the `ray` backend runs
"""
