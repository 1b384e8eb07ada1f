"""What a failed registry check means (engine.image_exists): absent, a refused login,
an untrusted certificate, or a transient error tried again; buildx's own messages."""

from __future__ import annotations

from types import SimpleNamespace

import pytest
from python_on_whales.exceptions import DockerException

from builder import engine
from builder.errors import EngineError

REF = "registry.example:5443/openhands/runtime:abc"
NOT_FOUND = f"ERROR: {REF}: not found"
UNAUTHORIZED = (
    "ERROR: failed to authorize: failed to fetch oauth token: unexpected status from GET "
    "request to https://registry.example:5443/token: 401 Unauthorized"
)
BASIC = (
    "ERROR: unexpected status from HEAD request to https://registry.example:5443/v2/openhands/"
    "runtime/manifests/abc: 401 Unauthorized"
)
UNTRUSTED = (
    'ERROR: failed to do request: Head "https://registry.example:5443/v2/openhands/runtime/'
    'manifests/abc": tls: failed to verify certificate: x509: certificate signed by unknown '
    "authority"
)
FLAKY = (
    "ERROR: unexpected status from HEAD request to http://127.0.0.1:5000/v2/openhands/runtime/"
    "manifests/abc: 500 Internal Server Error"
)
REFUSED = (
    'ERROR: failed to do request: Head "http://127.0.0.1:5999/v2/openhands/nope/manifests/'
    'nope": dial tcp 127.0.0.1:5999: connect: connection refused'
)


def test_not_found_is_absent() -> None:
    assert engine.registry_failure(REF, NOT_FOUND.removeprefix("ERROR: ")) is None


@pytest.mark.parametrize("text", [UNAUTHORIZED, BASIC])
def test_a_refused_login_names_the_registry_and_docker_login(text: str) -> None:
    failure = engine.registry_failure(REF, text.removeprefix("ERROR: "))
    assert failure is not None and not failure.transient
    assert failure.message.startswith("registry.example:5443: the registry refused the login")
    assert "`docker login registry.example:5443`" in failure.message


def test_an_untrusted_certificate_names_certs_d() -> None:
    failure = engine.registry_failure(REF, UNTRUSTED.removeprefix("ERROR: "))
    assert failure is not None and not failure.transient
    assert "/etc/docker/certs.d/registry.example:5443/ca.crt" in failure.message


@pytest.mark.parametrize("text", [FLAKY, REFUSED, "ERROR: ... 429 Too Many Requests"])
def test_server_errors_are_transient(text: str) -> None:
    failure = engine.registry_failure(REF, text.removeprefix("ERROR: "))
    assert failure is not None and failure.transient


def fake_docker(monkeypatch: pytest.MonkeyPatch, answers: list[str | None]) -> list[str]:
    """engine._docker() whose imagetools.inspect fails with each text in turn (None:
    answers with a single-platform manifest); the calls made."""
    calls: list[str] = []

    def inspect(ref: str) -> object:
        calls.append(ref)
        text = answers.pop(0)
        if text is None:
            return SimpleNamespace(manifests=[])
        raise DockerException(
            ["docker", "buildx", "imagetools", "inspect", ref], 1, b"", text.encode()
        )

    docker = SimpleNamespace(buildx=SimpleNamespace(imagetools=SimpleNamespace(inspect=inspect)))
    monkeypatch.setattr(engine, "_docker", lambda: docker)
    monkeypatch.setattr(engine.time, "sleep", lambda s: None)
    return calls


def test_a_transient_error_is_tried_again(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_docker(monkeypatch, [FLAKY, FLAKY, None])
    assert engine.image_exists(REF, ("linux/amd64",))
    assert len(calls) == 3


def test_a_registry_that_keeps_failing_stops_the_run(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_docker(monkeypatch, [FLAKY] * engine.REGISTRY_TRIES)
    with pytest.raises(EngineError, match=r"500 Internal Server Error\), 4 tries"):
        engine.image_exists(REF)
    assert len(calls) == engine.REGISTRY_TRIES


def test_a_refused_login_is_never_a_rebuild(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = fake_docker(monkeypatch, [BASIC])
    with pytest.raises(EngineError, match=r"docker login registry\.example:5443"):
        engine.image_exists(REF)
    assert len(calls) == 1
    fake_docker(monkeypatch, [NOT_FOUND])
    assert not engine.image_exists(REF)
