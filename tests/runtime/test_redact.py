"""Secret values never leave the replica: the redaction rules, and a real replica.

Table tests pin what is matched and what it becomes; the real-process tests start a
replica whose model puts a secret into an exception, a print and a failed reload,
and check every place the value could surface: the log file (what `brace logs` and
`brace watch` relay), the HTTP answers, and the reload's error and traceback.
"""

from __future__ import annotations

import io
import json
import textwrap
import threading
from pathlib import Path

import pytest

from brace.runtime.redact import (
    MIN_LENGTH,
    RedactingStream,
    Redactor,
    compile_needles,
    forms,
    needles,
    redact,
)
from tests.conftest import MakeTruss
from tests.runtime.conftest import Launcher, replica_env

TOKEN = "hf_Zx9LmQ2vR7tW"  # what a Hugging Face token looks like


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        pytest.param("hf_abc123", ["hf_abc123"], id="plain"),
        pytest.param(
            "C:\\keys\\a1", ["C:\\keys\\a1", "C:\\\\keys\\\\a1"], id="escaped-backslashes"
        ),
        pytest.param('say "hi"', ['say "hi"', 'say \\"hi\\"'], id="json-escapes-quotes"),
        pytest.param("pässwort", ["pässwort", "p\\u00e4sswort"], id="json-escapes-unicode"),
        pytest.param(
            "-----BEGIN KEY-----\nMIIEvQ\n-----END KEY-----",
            [
                "-----BEGIN KEY-----\nMIIEvQ\n-----END KEY-----",
                "-----BEGIN KEY-----\\nMIIEvQ\\n-----END KEY-----",
                "-----BEGIN KEY-----",
                "MIIEvQ",
                "-----END KEY-----",
            ],
            id="multi-line-also-line-by-line",
        ),
        pytest.param("abc", [], id="too-short"),
        pytest.param("", [], id="empty"),
    ],
)
def test_forms(value: str, expected: list[str]) -> None:
    assert forms(value) == expected


@pytest.mark.parametrize(
    ("secrets", "text", "expected"),
    [
        pytest.param({}, "nothing to hide", "nothing to hide", id="no-secrets"),
        pytest.param(
            {"hf_token": TOKEN},
            f"ValueError: bad token {TOKEN}!",
            "ValueError: bad token [secret:hf_token]!",
            id="in-a-message",
        ),
        pytest.param(
            {"hf_token": TOKEN},
            f"{TOKEN}{TOKEN}",
            "[secret:hf_token][secret:hf_token]",
            id="twice-in-a-row",
        ),
        pytest.param(
            {"db": "pa\\ss-word"},
            "KeyError('pa\\\\ss-word')",
            "KeyError('[secret:db]')",
            id="as-repr-shows-it",
        ),
        pytest.param(
            {"short": "s3cret", "long": "s3cret-and-more"},
            "s3cret-and-more / s3cret",
            "[secret:long] / [secret:short]",
            id="longest-first",
        ),
        pytest.param(
            {"a": "same-value", "b": "same-value"},
            "same-value",
            "[secret:a]",
            id="shared-value-names-the-first",
        ),
        pytest.param({"pin": "123"}, "order 123 shipped", "order 123 shipped", id="too-short"),
        pytest.param(
            {"re": "a.b*c"}, "axbbc a.b*c", "axbbc [secret:re]", id="regex-characters-literal"
        ),
    ],
)
def test_redact(secrets: dict[str, str], text: str, expected: str) -> None:
    table = needles(secrets.items())
    assert redact(text, table, compile_needles(table)) == expected
    assert Redactor(secrets)(text) == expected


def test_a_value_added_later_is_redacted_from_then_on() -> None:
    redactor = Redactor()
    assert redactor(f"early {TOKEN}") == f"early {TOKEN}"

    redactor.add("hf_token", TOKEN)

    assert redactor(f"late {TOKEN}") == "late [secret:hf_token]"
    assert redactor.scrub({"error": TOKEN, "n": 1, "list": [TOKEN]}) == {
        "error": "[secret:hf_token]",
        "n": 1,
        "list": ["[secret:hf_token]"],
    }


def test_min_length_is_four() -> None:
    assert MIN_LENGTH == 4


def test_the_stream_sees_a_value_written_in_pieces() -> None:
    sink = io.StringIO()
    stream = RedactingStream(sink, Redactor({"hf_token": TOKEN}))

    stream.write(TOKEN[:5])
    stream.write(TOKEN[5:] + " tail")
    assert sink.getvalue() == ""  # held until the line ends
    stream.write("\nnext ")
    assert sink.getvalue() == "[secret:hf_token] tail\n"
    stream.flush()  # a partial line goes out on flush (progress output)
    assert sink.getvalue() == "[secret:hf_token] tail\nnext "


def test_the_stream_is_safe_across_threads() -> None:
    sink = io.StringIO()
    stream = RedactingStream(sink, Redactor({"hf_token": TOKEN}))

    def write() -> None:
        for _ in range(200):
            stream.write(f"{TOKEN}\n")

    threads = [threading.Thread(target=write) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert sink.getvalue() == "[secret:hf_token]\n" * 800


# Real replicas

LEAKY_MODEL = """\
class Model:
    def __init__(self, secrets, **kwargs):
        self.secrets = secrets

    def load(self):
        print("loaded with", self.secrets["hf_token"])

    def predict(self, model_input):
        if model_input.get("late"):
            raise RuntimeError("late secret: " + self.secrets["late"])
        raise ValueError(self.secrets["hf_token"])
"""
SECRETS_CONFIG = """\
model_name: leaky
secrets:
  hf_token: null
  late: null
"""


def test_a_secret_in_an_exception_never_reaches_the_log_or_the_answers(
    make_truss: MakeTruss, start_replica: Launcher, tmp_path: Path
) -> None:
    """The reproduction: a model raising ValueError(secret) used to put the value in the
    deployment's log, hence in `brace logs`, `brace watch` and its JSON events."""
    home = tmp_path / "home"
    (home / "secrets").mkdir(parents=True)
    truss = make_truss("leaky", config=SECRETS_CONFIG, model=LEAKY_MODEL)
    env = replica_env(home, {"BRACE_SECRET_hf_token": TOKEN})
    replica = start_replica(truss, env=env)

    answer = replica.predict({})
    assert answer.status == 500
    assert TOKEN not in answer.body.decode()

    late = "written-after-the-replica-started"
    (home / "secrets" / "late").write_text(late + "\n")
    answer = replica.predict({"late": True})
    assert answer.status == 500

    model_file = truss / "model" / "model.py"
    model_file.write_text(
        LEAKY_MODEL.replace(
            "    def load(self):\n",
            '    def load(self):\n        raise KeyError(self.secrets["hf_token"])\n',
        )
    )
    reloaded = replica.request("POST", "/brace/reload")
    assert reloaded.status == 422
    body = reloaded.json()
    assert body["stage"] == "load"
    assert TOKEN not in json.dumps(body)
    assert body["error"].startswith("KeyError: '[secret:hf_token]'")
    assert "[secret:hf_token]" in body["traceback"]

    replica.stop()
    log = replica.log()
    assert TOKEN not in log and late not in log
    assert "ValueError: [secret:hf_token]" in log
    assert "RuntimeError: late secret: [secret:late]" in log
    assert "loaded with [secret:hf_token]" in log  # the model's own print()


def test_a_secret_in_a_failed_first_load_is_redacted(
    make_truss: MakeTruss, start_replica: Launcher, tmp_path: Path
) -> None:
    home = tmp_path / "home"
    (home / "secrets").mkdir(parents=True)
    (home / "secrets" / "hf_token").write_text(TOKEN + "\n")
    model = textwrap.dedent(
        """\
        class Model:
            def __init__(self, secrets, **kwargs):
                self.secrets = secrets

            def load(self):
                raise ConnectionError("cannot log in with " + self.secrets["hf_token"])

            def predict(self, model_input):
                return model_input
        """
    )
    truss = make_truss("fails", config=SECRETS_CONFIG, model=model)
    replica = start_replica(truss, env=replica_env(home), wait=False)

    assert replica.wait_exit() == 1
    log = replica.log()
    assert TOKEN not in log
    assert "ConnectionError: cannot log in with [secret:hf_token]" in log
