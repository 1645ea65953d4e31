"""``python -m runtime connect``: MQTT and OPC UA connectors with store-and-forward (the ``connect`` extra).

This file imports nothing, so importing the package needs none of the extra (paho-mqtt, asyncua,
prometheus-client); nothing in the runtime core, ``runtime._monitor`` or ``runtime._serve`` imports
it, and it never imports ``runtime._serve`` or ``runtime._cli`` (what it shares with the server, the
model holder and strict JSON bodies, is core). A record flows down this graph::

    process.py        Connector: the parts wired together; run_until_signalled (SIGTERM, SIGHUP)
    ├── mqtt.py           paho-mqtt: persistent session, manual acks, the outbox's MQTT rows out
    ├── opcua.py          asyncua: trigger subscription, input reads, typed output writes
    │   └── payload.py        MQTT payloads and node values -> the model's columns (renames, units)
    ├── health.py         /metrics, /v2/health/*, /v1/status on 127.0.0.1 (standard library)
    │   └── metrics.py        Counters and their Prometheus exposition
    ├── routes.py         which topic or nodes a result goes to
    │   └── messages.py       prediction and error JSON, OPC UA output values
    ├── batcher.py        micro-batches: predict, commit to the outbox, then acknowledge, then log
    ├── outbox.py         SQLite (WAL) store-and-forward, bounded by size and age
    └── config.py         the TOML file, read strictly
    runtime core (_model, _holder, _json_body, _validation) and runtime._monitor.predictlog below.
"""
