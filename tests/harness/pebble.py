"""Pebble, Let's Encrypt's test ACME CA (Debian's `pebble`), on loopback: a real issuance without the internet.

pebble-challtestsrv is its DNS server and answers every name with 127.0.0.1, so the host names of a
test resolve, for Pebble's validation, to the nginx of the test. Pebble fetches the HTTP-01 answer on
the port `http_port` names (its config's httpPort), which the test points at nginx's port 80 listener.

What Debian's package does not bring (/work/shared/tools/pebble.md): a certificate for Pebble's own
https listener (made here, for localhost, by a throwaway CA that certbot is told to trust with
REQUESTS_CA_BUNDLE); and each run of Pebble has a new root, fetched from its management port to
verify what it issued.
"""

from __future__ import annotations

import json
import shutil
import ssl
import subprocess
import tempfile
import urllib.request
from datetime import UTC, datetime, timedelta
from ipaddress import ip_address
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from tests.harness.processes import find_binary, free_port, stop, wait_for_port


def listener_certificate(folder: Path) -> tuple[Path, Path, Path]:
    """A throwaway CA and a certificate it issued for localhost and 127.0.0.1: (ca, certificate, key)."""
    now = datetime.now(UTC)

    def build(subject: str, key, issuer: x509.Name, signer, ca: bool, names: list[x509.GeneralName]):
        builder = (
            x509.CertificateBuilder()
            .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, subject)]))
            .issuer_name(issuer)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - timedelta(hours=1))
            .not_valid_after(now + timedelta(days=2))
            .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        )
        if names:
            builder = builder.add_extension(x509.SubjectAlternativeName(names), critical=False)
        return builder.sign(signer, hashes.SHA256())

    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca = build(
        "Pebble listener test CA",
        ca_key,
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Pebble listener test CA")]),
        ca_key,
        True,
        [],
    )
    leaf = build(
        "localhost",
        key,
        ca.subject,
        ca_key,
        False,
        [x509.DNSName("localhost"), x509.IPAddress(ip_address("127.0.0.1"))],
    )
    paths = folder / "listener-ca.pem", folder / "listener.pem", folder / "listener-key.pem"
    paths[0].write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    paths[1].write_bytes(leaf.public_bytes(serialization.Encoding.PEM))
    paths[2].write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    return paths


class Pebble:
    def __init__(self, http_port: int):
        self.http_port = http_port
        self.port, self.management_port = free_port(), free_port()
        self.dns_port, self.dns_management_port = free_port(), free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="mf-pebble-"))
        self.listener_ca, certificate, key = listener_certificate(self.folder)
        self.config = self.folder / "pebble.json"
        self.config.write_text(
            json.dumps(
                {
                    "pebble": {
                        "listenAddress": f"127.0.0.1:{self.port}",
                        "managementListenAddress": f"127.0.0.1:{self.management_port}",
                        "certificate": str(certificate),
                        "privateKey": str(key),
                        "httpPort": http_port,
                        "tlsPort": free_port(),
                        "ocspResponderURL": "",
                        "externalAccountBindingRequired": False,
                    }
                }
            )
        )
        self.processes: list[subprocess.Popen] = []
        self.output = open(self.folder / "pebble.log", "w")

    @property
    def directory(self) -> str:
        return f"https://localhost:{self.port}/dir"

    def start(self) -> Pebble:
        log = self.output
        self.processes.append(
            subprocess.Popen(
                [
                    find_binary("pebble-challtestsrv"),
                    "-defaultIPv4",
                    "127.0.0.1",
                    "-defaultIPv6",
                    "",
                    "-dns01",
                    f"127.0.0.1:{self.dns_port}",
                    "-http01",
                    "",
                    "-https01",
                    "",
                    "-tlsalpn01",
                    "",
                    "-management",
                    f"127.0.0.1:{self.dns_management_port}",
                ],
                stdout=log,
                stderr=log,
            )
        )
        wait_for_port(self.dns_management_port, self.processes[-1], what="pebble-challtestsrv")
        # No sleep before validating, every nonce good (certbot retries a bad one only once), and no
        # authorization reused: each order, the forced renewal's too, is validated over HTTP-01.
        self.processes.append(
            subprocess.Popen(
                [find_binary("pebble"), "-config", str(self.config), "-dnsserver", f"127.0.0.1:{self.dns_port}"],
                env={"PEBBLE_VA_NOSLEEP": "1", "PEBBLE_WFE_NONCEREJECT": "0", "PEBBLE_AUTHZREUSE": "0"},
                stdout=log,
                stderr=log,
            )
        )
        for port in (self.port, self.management_port):
            wait_for_port(port, self.processes[-1], what="pebble")
        return self

    def root(self) -> Path:
        """This run's root certificate, which everything Pebble issues chains to."""
        context = ssl.create_default_context(cafile=str(self.listener_ca))
        with urllib.request.urlopen(
            f"https://localhost:{self.management_port}/roots/0", context=context, timeout=10
        ) as response:
            path = self.folder / "root.pem"
            path.write_bytes(response.read())
        return path

    def log(self) -> str:
        return (self.folder / "pebble.log").read_text()

    def stop(self) -> None:
        for process in reversed(self.processes):
            stop(process, timeout=10)
        self.output.close()
        shutil.rmtree(self.folder, ignore_errors=True)
