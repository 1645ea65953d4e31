"""TLS and credentials for the broker: Mosquitto with a certificate of a test CA for 127.0.0.1 and a password
file, no anonymous clients; the connector trusts the CA (``[mqtt.tls] ca_file``) and logs in with
``username`` and ``password_file``, and predictions flow as over plain TCP."""

from __future__ import annotations

import datetime
import ipaddress
import subprocess
from pathlib import Path
from typing import Any

import pytest

import runtime
from tests.connect.broker import Mosquitto
from tests.connect.clients import Collector, Publisher, Secure, wait_for
from tests.connect.conftest import example_config
from tests.connect.records import records_for

pytest.importorskip("cryptography", reason="makes the test CA")


def _certificates(folder: Path) -> tuple[Path, Path, Path]:
    """A CA, and a server certificate it signed for 127.0.0.1: (ca.pem, server.pem, server.key)."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import NameOID

    now = datetime.datetime.now(datetime.timezone.utc)

    def certificate(subject: str, key: Any, issuer: str, signer: Any, ca: bool) -> x509.Certificate:
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if not ca:
            names = [x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, server_key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = certificate("factory-edge test CA", ca_key, "factory-edge test CA", ca_key, True)
    server = certificate("127.0.0.1", server_key, "factory-edge test CA", ca_key, False)
    paths = folder / "ca.pem", folder / "server.pem", folder / "server.key"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(server.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        server_key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    return paths


@pytest.mark.slow
def test_the_connector_speaks_tls_with_a_password(tmp_path: Path, shipped_bundle: Path, connector_factory: Any) -> None:
    folder = tmp_path / "tls-broker"
    folder.mkdir()
    ca, server, key = _certificates(folder)
    subprocess.run(["mosquitto_passwd", "-b", "-c", str(folder / "passwd"), "line3", "s3cret"], check=True)
    broker = Mosquitto(
        folder,
        listener=f"cafile {ca}\ncertfile {server}\nkeyfile {key}\n",
        settings=f"allow_anonymous false\npassword_file {folder / 'passwd'}\n",
    )
    broker.start()
    try:
        (tmp_path / "broker.password").write_text("s3cret\n")
        credentials = f'username = "line3"\npassword_file = "broker.password"\n[mqtt.tls]\nca_file = "{ca}"\n'
        connector = connector_factory(
            lambda port: example_config(shipped_bundle, broker.address, None, port).replace(
                "qos = 1\n", "qos = 1\n" + credentials
            )
        )
        connector.start()
        secure = Secure(ca, "line3", "s3cret")
        collector = Collector(broker.address, ["plant/line3/+/quality"], secure)
        publisher = Publisher(broker.address, secure)
        records = records_for(runtime.load(shipped_bundle), 20)
        for record in records:
            publisher.send("plant/line3/press-1/telemetry", record)
        wait_for(lambda: len(collector.ids("/quality")) >= len(records), 30, "the predictions over TLS")
        assert sorted(collector.ids("/quality")) == sorted(r["id"] for r in records)
        assert connector.terminate() == 0
        collector.close()
        publisher.close()
    finally:
        broker.stop()
