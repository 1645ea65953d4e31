"""Finding 12: bearer tokens, the Host allowlist, cross-origin refusals and TLS."""

from __future__ import annotations

import http.client
import json
import os
import subprocess
from pathlib import Path

import pytest

from runtime._cli import main
from runtime._serve.access import AccessPolicy, AccessRefusal
from tests.runtime.serve.records import EXAMPLE

ADMIN_TOKEN = "admin-0123456789abcdef"
API_TOKEN = "api-0123456789abcdef"
MISSING = "this endpoint needs a bearer token: send Authorization: Bearer <token> (the server's {})."
INVALID = "the bearer token is not valid for this endpoint."
CHALLENGE = 'Bearer realm="factory-edge"'
INVALID_CHALLENGE = 'Bearer realm="factory-edge", error="invalid_token"'


def token_file(folder: Path, name: str, token: str, mode: int = 0o600) -> Path:
    path = folder / name
    path.write_text(token + "\n")
    path.chmod(mode)
    return path


@pytest.fixture(scope="module")
def guarded_server(bundles, start_server, tmp_path_factory):
    folder = tmp_path_factory.mktemp("tokens")
    with start_server(
        bundles.model_folder(),
        "--admin-token-file",
        str(token_file(folder, "admin.token", ADMIN_TOKEN)),
        "--api-token-file",
        str(token_file(folder, "api.token", API_TOKEN)),
        "--poll-s",
        "0",
        log=False,
    ) as server:
        yield server


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


ACCESS = [
    # (case, method, path, headers (Host added unless given), status, exact error or None, WWW-Authenticate)
    ("health needs no token", "GET", "/v2/health/ready", {}, 200, None, None),
    ("live needs no token", "GET", "/v2/health/live", {}, 200, None, None),
    ("status without a token", "GET", "/v1/status", {}, 401, MISSING.format("--api-token-file"), CHALLENGE),
    ("metrics without a token", "GET", "/metrics", {}, 401, MISSING.format("--api-token-file"), CHALLENGE),
    ("status, wrong token", "GET", "/v1/status", _bearer("x" * 20), 401, INVALID, INVALID_CHALLENGE),
    ("status, Basic instead", "GET", "/v1/status", {"Authorization": "Basic YTpi"}, 401,
     MISSING.format("--api-token-file"), CHALLENGE),
    ("status, API token", "GET", "/v1/status", _bearer(API_TOKEN), 200, None, None),
    ("status, admin token", "GET", "/v1/status", _bearer(ADMIN_TOKEN), 200, None, None),
    ("predict without a token", "POST", "/v1/predict", {}, 401, MISSING.format("--api-token-file"), CHALLENGE),
    ("predict, API token", "POST", "/v1/predict", _bearer(API_TOKEN), 200, None, None),
    ("reload without a token", "POST", "/v1/admin/reload", {}, 401, MISSING.format("--admin-token-file"), CHALLENGE),
    ("reload, API token", "POST", "/v1/admin/reload", _bearer(API_TOKEN), 401, INVALID, INVALID_CHALLENGE),
    ("reload, admin token", "POST", "/v1/admin/reload", _bearer(ADMIN_TOKEN), 200, None, None),
    ("repository index, API token", "POST", "/v2/repository/index", _bearer(API_TOKEN), 401, INVALID,
     INVALID_CHALLENGE),
    ("repository index, admin token", "POST", "/v2/repository/index", _bearer(ADMIN_TOKEN), 200, None, None),
    ("wrong Host", "GET", "/v2/health/ready", {"Host": "evil.example"}, 421, "HOSTS", None),
    ("wrong Host, right token", "GET", "/v1/status", {"Host": "evil.example:80", **_bearer(API_TOKEN)}, 421,
     "HOSTS", None),
    ("wrong Host on no route", "GET", "/nowhere", {"Host": "evil.example"}, 421, "HOSTS", None),
    ("cross-origin Origin", "POST", "/v1/predict", {"Origin": "http://evil.example", **_bearer(API_TOKEN)}, 403,
     "cross-origin request from Origin 'http://evil.example' refused.", None),
    ("Origin null", "POST", "/v1/predict", {"Origin": "null", **_bearer(API_TOKEN)}, 403,
     "cross-origin request from Origin 'null' refused.", None),
    ("Sec-Fetch-Site cross-site", "POST", "/v1/predict", {"Sec-Fetch-Site": "cross-site", **_bearer(API_TOKEN)},
     403, "cross-site request refused (Sec-Fetch-Site: cross-site).", None),
    ("same-origin Origin", "POST", "/v1/predict", {"Origin": "http://127.0.0.1:PORT", **_bearer(API_TOKEN)}, 200,
     None, None),
    ("Sec-Fetch-Site same-origin", "POST", "/v1/predict", {"Sec-Fetch-Site": "same-origin", **_bearer(API_TOKEN)},
     200, None, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("method", "path", "headers", "status", "error", "challenge"),
    [case[1:] for case in ACCESS],
    ids=[case[0] for case in ACCESS],
)
def test_access_is_checked_before_any_handler(guarded_server, method, path, headers, status, error, challenge):
    port = guarded_server.port
    headers = {key: value.replace("PORT", str(port)) for key, value in headers.items()}
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    try:
        body = json.dumps(EXAMPLE).encode() if method == "POST" else None
        if "Host" in headers:
            connection.putrequest(method, path, skip_host=True)
        else:
            connection.putrequest(method, path)
        for key, value in headers.items():
            connection.putheader(key, value)
        connection.putheader("Content-Length", str(len(body or b"")))
        connection.endheaders(body)
        response = connection.getresponse()
        data = response.read()
    finally:
        connection.close()
    assert response.status == status, data
    if error == "HOSTS":
        error = (
            f"Host {headers['Host']!r} is not served here: allowed are 127.0.0.1:{port}, localhost:{port}, "
            f"[::1]:{port} (--allowed-hosts)."
        )
    if error is not None:
        assert json.loads(data) == {"error": error}
    assert response.getheader("WWW-Authenticate") == challenge
    assert not [name for name, _ in response.getheaders() if name.lower().startswith("access-control-")]
    assert API_TOKEN not in data.decode() and ADMIN_TOKEN not in data.decode()


def test_tokens_are_never_logged(guarded_server):
    guarded_server.get("/v1/status", headers=_bearer("wrong-token-that-must-not-show"))
    log = guarded_server.stderr()
    assert "wrong-token-that-must-not-show" not in log and API_TOKEN not in log and ADMIN_TOKEN not in log


def test_refusals_are_counted(guarded_server):
    before = guarded_server.metric('factory_edge_http_errors_total{kind="unauthorized"}', headers=_bearer(API_TOKEN))
    assert guarded_server.get("/v1/status").status == 401
    after = guarded_server.metric('factory_edge_http_errors_total{kind="unauthorized"}', headers=_bearer(API_TOKEN))
    assert after == before + 1


ADMIN_OFF = (
    "admin endpoints are disabled on a server not bound to loopback: start it with --admin-token-file FILE and "
    "send Authorization: Bearer <token>."
)


@pytest.mark.parametrize(
    ("bound", "route", "headers", "refusal"),
    [
        ("127.0.0.1", "admin", {}, None),  # loopback without an admin token: open (only this machine reaches it)
        ("::1", "admin", {}, None),
        ("0.0.0.0", "admin", {}, (403, ADMIN_OFF)),
        ("10.1.2.3", "admin", {}, (403, ADMIN_OFF)),
        ("10.1.2.3", "api", {}, None),  # no --api-token-file: open
        ("10.1.2.3", "health", {}, None),
    ],
)
def test_admin_routes_without_a_token_are_open_on_loopback_only(bound, route, headers, refusal):
    policy = AccessPolicy.create(bound, 8000)
    host = f"[{bound}]:8000" if ":" in bound else f"{bound}:8000"
    try:
        policy.check("POST", {"host": host, **headers}, route)
    except AccessRefusal as error:
        assert (error.status, str(error)) == refusal
    else:
        assert refusal is None


@pytest.mark.parametrize(
    ("allowed", "host", "served"),
    [
        (("gateway.plant",), "gateway.plant:8000", True),  # a name without a port allows any port
        (("gateway.plant",), "GATEWAY.plant", True),
        (("gateway.plant:8000",), "gateway.plant:8001", False),
        (("[fd00::1]",), "[fd00::1]:8000", True),
        (("gateway.plant",), "gateway.plant.evil.example", False),
    ],
)
def test_allowed_hosts(allowed, host, served):
    policy = AccessPolicy.create("0.0.0.0", 8000, allowed_hosts=allowed)
    try:
        policy.check("GET", {"host": host}, "health")
    except AccessRefusal as error:
        assert error.status == 421 and not served
    else:
        assert served


@pytest.mark.parametrize(
    ("mode", "content", "error"),
    [
        (0o644, ADMIN_TOKEN, "is readable by every user (mode 0644): chmod 600 it, a token other users can read is "
         "no secret."),
        (0o600, "short", "must hold a token of at least 16 characters on its first line."),
    ],
)  # fmt: skip
def test_a_token_file_that_cannot_serve_is_a_usage_error(tmp_path, capsys, mode, content, error):
    path = token_file(tmp_path, "admin.token", content, mode)
    assert main(["serve", "BUNDLE", "--admin-token-file", str(path)]) == 4  # before any bundle is read
    assert capsys.readouterr().err.strip().endswith(f"--admin-token-file {str(path)!r} {error}")


def test_tls_serves_https_with_a_self_signed_certificate(bundles, start_server, tmp_path):
    key, cert = tmp_path / "key.pem", tmp_path / "cert.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-days", "1",
         "-subj", "/CN=127.0.0.1", "-keyout", str(key), "-out", str(cert)],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    os.chmod(key, 0o600)
    with start_server(
        bundles.model_folder(), "--ssl-certfile", str(cert), "--ssl-keyfile", str(key), log=False
    ) as server:
        assert server.tls
        reply = server.get("/v2/health/ready")
        assert (reply.status, reply.json()) == (200, {"ready": True})
        assert server.post_json("/v1/predict", EXAMPLE).status == 200
        with pytest.raises((http.client.HTTPException, OSError)):  # plain HTTP is not answered
            connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=5)
            try:
                connection.request("GET", "/v2/health/ready")
                connection.getresponse().read()
            finally:
                connection.close()
