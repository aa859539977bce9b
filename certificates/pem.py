"""What a certificate that nginx serves must be, checked the same way wherever it comes from: the
operator's files (scripts/check-env, TLS_MODE=files), certbot's or the rehearsal CA's (the service).

A served pair is the certificate chain (the site's certificate first, then the intermediates that
issued it, as CAs send them in "fullchain.pem") and its private key. It is fit when the key belongs
to the certificate, the certificate names every host nginx serves, it is valid now, and the chain
leads to a root that clients trust (the public roots of certifi, or the CA file given).
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import certifi
from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.types import PrivateKeyTypes


class PemError(Exception):
    """A file that is not what it should be; the message says what it holds instead."""


@dataclass(frozen=True)
class Finding:
    """One reason a pair cannot be served: `part` is "certificate" or "key"."""

    part: str
    problem: str
    fix: str


def read_chain(data: bytes, what: str) -> list[x509.Certificate]:
    try:
        chain = x509.load_pem_x509_certificates(data)
    except ValueError:
        raise PemError(f"{what} holds no PEM certificate (-----BEGIN CERTIFICATE-----)") from None
    return chain


def read_key(data: bytes, what: str) -> PrivateKeyTypes:
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        raise PemError(f"{what} is encrypted with a passphrase, which nginx cannot type in at start") from None
    except (ValueError, UnsupportedAlgorithm):
        raise PemError(f"{what} holds no PEM private key (-----BEGIN PRIVATE KEY-----)") from None


def names(certificate: x509.Certificate) -> list[str]:
    """The DNS names and IP addresses the certificate is for (its subjectAltName)."""
    try:
        alternative = certificate.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return []
    return [
        *alternative.get_values_for_type(x509.DNSName),
        *(str(address) for address in alternative.get_values_for_type(x509.IPAddress)),
    ]


def covers(certificate: x509.Certificate, host: str) -> bool:
    """Whether a client checking `host` accepts the certificate (RFC 6125: a wildcard stands for one label)."""
    host = host.lower().rstrip(".")
    try:
        ipaddress.ip_address(host)
        return host in names(certificate)
    except ValueError:
        pass
    for name in (name.lower().rstrip(".") for name in names(certificate)):
        if name == host or (name.startswith("*.") and host.partition(".")[2] == name[2:] and "." in name[2:]):
            return True
    return False


def same_key(certificate: x509.Certificate, key: PrivateKeyTypes) -> bool:
    def spki(public_key) -> bytes:
        return public_key.public_bytes(serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo)

    return spki(certificate.public_key()) == spki(key.public_key())


def issued_by(certificate: x509.Certificate, issuer: x509.Certificate) -> bool:
    if certificate.issuer != issuer.subject:
        return False
    try:
        certificate.verify_directly_issued_by(issuer)
    except (InvalidSignature, ValueError, TypeError):
        return False
    return True


def trusted_roots(ca_file: str = "") -> list[x509.Certificate]:
    """The public roots (certifi, as the scripts' requests trust them), or only `ca_file`'s when given."""
    return read_chain(Path(ca_file or certifi.where()).read_bytes(), ca_file or "certifi's bundle")


def missing_issuer(chain: list[x509.Certificate], roots: list[x509.Certificate]) -> x509.Certificate | None:
    """The certificate of `chain` whose issuer is neither next in the chain nor a trusted root, if any."""
    for index, certificate in enumerate(chain):
        if any(issued_by(certificate, root) for root in roots):
            return None
        following = chain[index + 1] if index + 1 < len(chain) else None
        if following is None or not issued_by(certificate, following):
            return certificate
    return None


def to_pem(chain: list[x509.Certificate], key: PrivateKeyTypes) -> tuple[bytes, bytes]:
    """The chain and the key as nginx reads them: PEM, the key unencrypted (PKCS#8)."""
    return (
        b"".join(certificate.public_bytes(serialization.Encoding.PEM) for certificate in chain),
        key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()),
    )


def days_left(certificate: x509.Certificate, now: datetime | None = None) -> float:
    return (certificate.not_valid_after_utc - (now or datetime.now(UTC))).total_seconds() / 86400


def findings(
    chain: list[x509.Certificate],
    key: PrivateKeyTypes,
    hosts: list[str],
    roots: list[x509.Certificate],
    now: datetime | None = None,
) -> list[Finding]:
    """Every reason why nginx could not serve this pair to clients asking for `hosts`."""
    now = now or datetime.now(UTC)
    leaf = chain[0]
    found = []
    if not same_key(leaf, key):
        found.append(
            Finding(
                "key",
                "does not belong to the certificate (their public keys differ)",
                "give the key that the certificate was issued for (the one its request was made "
                "with), or the certificate issued for this key",
            )
        )
    uncovered = [host for host in hosts if not covers(leaf, host)]
    if uncovered:
        found.append(
            Finding(
                "certificate",
                f"is not valid for {', '.join(uncovered)} (it names {', '.join(names(leaf)) or 'no host'})",
                "get a certificate that names every host of APP_PUBLIC_URL and GLITCHTIP_PUBLIC_URL",
            )
        )
    if leaf.not_valid_after_utc <= now:
        found.append(
            Finding(
                "certificate",
                f"expired on {leaf.not_valid_after_utc:%Y-%m-%d %H:%M} UTC",
                "renew it with your CA and point at the new files",
            )
        )
    elif leaf.not_valid_before_utc > now:
        found.append(
            Finding(
                "certificate",
                f"is not valid before {leaf.not_valid_before_utc:%Y-%m-%d %H:%M} UTC",
                "check this host's clock, or wait until then",
            )
        )
    lacking = missing_issuer(chain, roots)
    if lacking is not None and issued_by(lacking, lacking):
        found.append(
            Finding(
                "certificate",
                f"is issued by {lacking.subject.rfc4514_string()}, which is not a trusted root",
                "name that CA's certificate in TLS_CA_FILE (a private CA), or get a certificate from a public CA",
            )
        )
    elif lacking is not None:
        found.append(
            Finding(
                "certificate",
                "comes without its chain: nothing in the file or among the trusted "
                f"roots issued {lacking.subject.rfc4514_string()} (issuer: "
                f"{lacking.issuer.rfc4514_string()})",
                "append the intermediate certificate(s) after yours, as your CA sends them "
                "(often fullchain.pem, or the certificate followed by chain.pem); for a private CA, "
                "name its root in TLS_CA_FILE",
            )
        )
    return found
