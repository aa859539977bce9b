"""TLS_MODE=rehearsal: production's https on one machine before a domain exists.

A CA of this stack's own is made at first use (kept in the service's state volume, never leaving it
but for its certificate, which the scripts and your browser are told to trust), and it issues the
certificate for the public host names, as an ACME CA would: short-lived, renewed by the same
schedule. Nothing outside this machine trusts it, so it is never production's default.
"""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from certificates import pem
from certificates.settings import Settings
from certificates.store import Store

CA_CERTIFICATE, CA_KEY = "rehearsal-ca.pem", "rehearsal-ca-key.pem"
CA_DAYS, LEAF_DAYS = 3650, 90
# Renewed with a third of its life left, as certbot does.
RENEW_DAYS_LEFT = LEAF_DAYS / 3


def ca(settings: Settings) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    """The rehearsal CA, made on first use."""
    certificate_path, key_path = settings.state / CA_CERTIFICATE, settings.state / CA_KEY
    if certificate_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        assert isinstance(key, ec.EllipticCurvePrivateKey)
        return x509.load_pem_x509_certificate(certificate_path.read_bytes()), key
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Migraine Forecast"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"{settings.stack} rehearsal CA"),
        ]
    )
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=CA_DAYS))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=False,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )
    settings.state.mkdir(parents=True, exist_ok=True)
    key_path.write_bytes(
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
    )
    key_path.chmod(0o600)
    certificate_path.write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    return certificate, key


def subject_alternative_name(hosts: tuple[str, ...]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for host in hosts:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            entries.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(entries)


def issue(settings: Settings) -> tuple[bytes, bytes]:
    """A certificate for the public host names, signed by the rehearsal CA: (chain, key) as PEM."""
    authority, authority_key = ca(settings)
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, settings.hosts[0])]))
        .issuer_name(authority.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=LEAF_DAYS))
        .add_extension(subject_alternative_name(settings.hosts), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(authority_key.public_key()), critical=False)
        .sign(authority_key, hashes.SHA256())
    )
    return (
        certificate.public_bytes(serialization.Encoding.PEM),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def due(settings: Settings, store: Store) -> str:
    """Why the served certificate must be replaced (empty: it need not be)."""
    served = store.current()
    if served is None:
        return "no certificate yet"
    leaf = pem.read_chain(served[0], "the served certificate")[0]
    authority, _ = ca(settings)
    if not pem.issued_by(leaf, authority):
        return "the served certificate is not the rehearsal CA's"
    if any(not pem.covers(leaf, host) for host in settings.hosts):
        return "the host names changed"
    if pem.days_left(leaf) < RENEW_DAYS_LEFT:
        return f"{pem.days_left(leaf):.0f} days left"
    return ""


def renew(settings: Settings, store: Store, force: bool = False) -> str:
    reason = "forced" if force else due(settings, store)
    if not reason:
        return "not due for renewal"
    store.install(*issue(settings))
    return f"issued by the rehearsal CA ({reason}), now served"


def ca_certificate(settings: Settings) -> bytes:
    """The rehearsal CA's certificate, for whatever must trust it (the scripts, a browser)."""
    return ca(settings)[0].public_bytes(serialization.Encoding.PEM)
