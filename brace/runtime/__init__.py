"""The replica: one OS process that loads a Truss model and serves it over HTTP.

`python -m brace.runtime --truss DIR --uds SOCKET` is what the controller spawns per
replica. The start path stays slim (argparse, uvicorn, starlette; nothing from the CLI
or the store) because every scale-up and every wake from zero pays for it.

Modules, in the order a request meets them:
  main        argument parsing and logging; the process entry point
  server      uvicorn on uvloop + httptools; loads the model once the socket is up
  app         predict on its own path first, then the Starlette routes: liveness,
              readiness, predict (and Truss's other routes), reload, environment
  pipeline    preprocess -> predict -> postprocess, predict_concurrency, result kinds,
              the answers to model errors
  payloads    request bodies into inputs (JSON, pydantic), results into JSON bodies
  streaming   the chunked response for generator predicts
  holder      the current model and its version, swapped atomically (for live reload)
  reload      live reload: POST /brace/reload re-imports the code and swaps the model
  environment the deployment's environment: BRACE_ENVIRONMENT, POST /brace/environment
  keepstate   whether a reload may keep the live instance (class-swap), pure
  usercode    the user's source files (fingerprint) and modules (evict, restore)
  loader      import + construct + setup_environment + load(): returns a new model,
              touches nothing else
  lazydata    the `lazy_data_resolver` handed to __init__ (nothing to download here)
  signatures  which arguments the user's methods take (Truss's rules), pure
  sourceimport  imports user code from source text, never from bytecode
  layout      where a Truss's code, packages and data are (live dir or snapshot)
  secrets     the `secrets` mapping handed to the model
  tracebacks  tracebacks cut to the user's own frames, pure
  virtualenvs per-requirement-set virtualenvs, layered on brace's own environment
"""
