"""`brace predict`: call a model through the local server, as a script or a person would.

The target is resolved against the store first (services/inference.py): an unknown
model, environment or deployment, or a deployment that failed or is inactive, is
refused before anything is started, naming it by name with the command that shows
why. Then the input is checked, the server started if needed, and the answer streamed
to stdout as it arrives. Whatever goes wrong after that is one error line and a
non-zero exit, never a traceback:

- an error answer: its `error` text (not the raw JSON), with the status;
- an answer cut short (the model raised mid-stream, a replica or the server died):
  how much arrived, and where to look;
- no connection: the server is not reachable.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from brace.cli.common import ModelOpt, Output, OutputOpt, note, open_store, session
from brace.cli.server import HostOpt, PortOpt, ensure_server
from brace.errors import (
    AuthError,
    BraceError,
    InvalidError,
    NotFoundError,
    RefusedError,
    ServerError,
    UsageError,
)

if TYPE_CHECKING:
    from brace.services.inference import InferenceTarget


def logs_command_for(target: InferenceTarget) -> str:
    return f"brace logs {target.deployment.name} -m {target.model.name}"


def _resolve(
    model: str | None, environment: str | None, deployment: str | None, development: bool
) -> InferenceTarget:
    from brace.services.inference import find_target

    chosen = [environment is not None, deployment is not None, development]
    if sum(chosen) > 1:
        raise UsageError("choose one of --environment, --deployment and --development")
    with open_store() as store, store.read() as tx:
        target = find_target(
            tx, model, environment=environment, deployment=deployment, development=development
        )
    status = target.deployment.status
    if status.failed or status.inactive:
        why = (
            f"See why with `{logs_command_for(target)}`, then push a fixed version."
            if status.failed
            else f"Activate it with `brace activate {target.deployment.name} -m "
            f"{target.model.name}`."
        )
        raise RefusedError(f"{target.describe()} is {status.value}: it cannot answer requests", why)
    return target


def _input(data: str | None, file: Path | None) -> bytes:
    if data is not None and file is not None:
        raise UsageError("pass the input with -d or -f, not both")
    if data is not None:
        text = data
    elif file is not None:
        try:
            text = file.read_text()
        except OSError as error:
            raise InvalidError(f"{file}: {error.strerror}") from None
    else:
        text = sys.stdin.read()
    try:
        json.loads(text)
    except ValueError as error:
        raise InvalidError(f"the input is not valid JSON: {error}") from None
    return text.encode()


def error_detail(body: bytes, target: InferenceTarget) -> str:
    """The text of an error answer: its `error` field, else the body; ids named."""
    text = body.decode(errors="replace").strip()
    try:
        parsed = json.loads(text)
    except ValueError:
        parsed = None
    if isinstance(parsed, dict) and "error" in parsed:
        error = parsed["error"]
        text = error if isinstance(error, str) else json.dumps(error)
    text = text.replace(f"model {target.model.id}", f"model {target.model.name}")
    text = text.replace(f"Model {target.model.id}", f"Model {target.model.name}")
    return text[:2000] or "(no details)"


def answer_error(status: int, body: bytes, target: InferenceTarget) -> BraceError:
    """The error to report for an answer with a status of 300 or more."""
    detail = error_detail(body, target)
    message = f"{target.describe()} answered {status}: {detail}"
    logs = f"See the deployment's log: `{logs_command_for(target)}`."
    if status in (401, 403):
        return AuthError(message)
    if status == 404:
        return NotFoundError(message, "List what runs with `brace deployments list`.")
    if status < 500:
        return InvalidError(message)
    return ServerError(message, logs)


class _Answer:
    """The answer as it arrives. For people it streams to stdout; with -o json it is kept
    and printed whole (a stream's text becomes one JSON string).

    A plain class, not a dataclass: every `brace` command imports this module, and a
    dataclass costs its methods' compilation at each start."""

    def __init__(self, streaming: bool) -> None:
        self.streaming = streaming
        self.status = 0
        self.size = 0
        self.last = b""
        self.kept: list[bytes] = []

    def on_chunk(self, status: int, chunk: bytes) -> None:
        self.status = status
        self.size += len(chunk)
        if chunk:
            self.last = chunk[-1:]
        if status < 300 and self.streaming:
            sys.stdout.buffer.write(chunk)
            sys.stdout.buffer.flush()
        else:
            self.kept.append(chunk)

    def finish(self) -> None:
        """End the output with a newline (and as one JSON document with -o json)."""
        if self.streaming:
            if self.size and self.last != b"\n":
                sys.stdout.write("\n")
            return
        body = b"".join(self.kept)
        try:
            json.loads(body)
        except ValueError:
            body = json.dumps(body.decode(errors="replace")).encode()
        sys.stdout.buffer.write(body.rstrip(b"\n") + b"\n")
        sys.stdout.buffer.flush()


def _cut_short(answer: _Answer, target: InferenceTarget, reason: str) -> ServerError:
    if answer.streaming and answer.size and answer.status < 300 and answer.last != b"\n":
        sys.stdout.write("\n")  # end the partial answer's line
        sys.stdout.flush()
    if not answer.size:
        return ServerError(
            f"no answer from {target.describe()}: the connection to the brace server was "
            f"lost ({reason})",
            f"The server or the replica may have stopped; see `brace status` and "
            f"`{logs_command_for(target)}`.",
        )
    return ServerError(
        f"the answer from {target.describe()} was cut short after {answer.size} bytes ({reason})",
        f"The model may have failed mid-stream, or its replica stopped; see "
        f"`{logs_command_for(target)}`.",
    )


def predict_command(
    model: ModelOpt = None,
    environment: Annotated[
        str | None, typer.Option("-e", "--environment", help="Call this environment.")
    ] = None,
    deployment: Annotated[
        str | None, typer.Option(help="Call this deployment (id or name).")
    ] = None,
    development: Annotated[bool, typer.Option(help="Call the development deployment.")] = False,
    data: Annotated[str | None, typer.Option("-d", "--data", help="JSON input.")] = None,
    file: Annotated[
        Path | None, typer.Option("-f", "--file", help="File with the JSON input.")
    ] = None,
    host: HostOpt = None,
    port: PortOpt = None,
    output: OutputOpt = Output.text,
) -> None:
    """Call a model's predict endpoint through the local server.

    Calls production, or the development deployment when the model has no production
    deployment yet (stderr says which), unless --environment, --deployment or
    --development says otherwise. The input comes from -d, -f or stdin; the answer
    streams to stdout as it arrives (with -o json it is printed whole, a stream's text
    as one JSON string).

    Example:

    \b
      brace predict -m hello -d '{"text": "hi"}'
    """
    import http.client

    from brace.apikey import api_key
    from brace.client import post
    from brace.home import brace_home

    target = _resolve(model, environment, deployment, development)
    body = _input(data, file)
    if target.implicit:
        note(f"Calling {target.describe()}.")
    where = ensure_server(host, port)
    answer = _Answer(streaming=session.output is Output.text)
    try:
        status = post(where, target.path, body, answer.on_chunk, key=api_key(brace_home()))
    except http.client.HTTPException as error:  # IncompleteRead, a malformed answer
        raise _cut_short(answer, target, type(error).__name__) from None
    except ServerError as error:  # the connection failed or was lost
        raise _cut_short(answer, target, error.message.rpartition(": ")[2]) from None
    if status >= 300:
        raise answer_error(status, b"".join(answer.kept), target)
    answer.finish()
