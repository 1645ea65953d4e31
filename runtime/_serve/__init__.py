"""``python -m runtime serve``: the HTTP server for one model bundle (the ``serve`` extra).

This file imports nothing, so importing the package needs none of the extra (uvicorn, starlette,
prometheus-client); nothing in the runtime core or ``runtime._monitor`` imports it, and it never
imports ``runtime._cli``. Requests flow one way, down this graph (a module imports only those
below it)::

    server.py         bind_socket, serve: uvicorn on a bound socket, its limits and TLS
    ├── connections.py    uvicorn's h11 protocol with idle / request-head timeouts, a connection cap
    └── app.py            route table, lifespan, create_app
        ├── endpoints.py      Starlette handlers: request ids, access checks, body limits, timeouts,
        │                     typed errors -> status + {"error": ...}, X-* headers
        └── dataplane.py      transport-free: predict, infer, metadata, readiness, status,
            │                 reload, drift (and its cache), log submission and waiting
            ├── protocol_v1.py    /v1/predict JSON payloads
            ├── protocol_v2.py    Open Inference Protocol (KServe v2) codec
            │   └── outcome.py
            ├── metrics.py        Prometheus registry of one app
            ├── call.py           one request: id, arrival, deadline
            ├── errors.py         typed errors the endpoints map to statuses
            ├── bad_rows.py       a batch's 400 naming every bad row (bounded)
            ├── access.py         bearer tokens, Host allowlist, cross-origin refusals (stdlib only)
            └── config.py         ServeConfig: serve's defaults, defined once
    runtime core (_model, _validation, _errors, _contract, _text; _holder: the served model and
    hot reload; _json_body: strict JSON bodies; both shared with runtime._connect) and runtime._monitor
    (predictlog, windows, drift) sit below all of them.
"""
