"""Where replicas run: the processes behind the controller's replicas.

supervisor   start a replica as a new interpreter, probe it, stop it (TERM, wait, KILL)
forkserver   the server's end of a fork server: replicas forked from a process that
             has already imported brace, Starlette and uvicorn
forkservers  brace's own fork server, and one per model environment that preloads
             the model's third-party imports
"""
