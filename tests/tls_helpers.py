"""Certificates made for one test: a self-signed one for 127.0.0.1 with a context that
trusts it, and the keys and certificates of a small PKI."""

from __future__ import annotations

import datetime
import ipaddress
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID


@dataclass(frozen=True)
class Certificate:
    certfile: Path
    keyfile: Path

    def client_context(self) -> ssl.SSLContext:
        """An SSL context that trusts exactly this certificate (and checks the host)."""
        return ssl.create_default_context(cafile=str(self.certfile))


def write_key(path: Path) -> ec.EllipticCurvePrivateKey:
    """A new private key, written to `path` (PEM, readable by the owner only)."""
    key = ec.generate_private_key(ec.SECP256R1())
    path.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    path.chmod(0o600)
    return key


def write_certificate(
    path: Path,
    name: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None = None,
    *,
    ca: bool,
    for_localhost: bool,
) -> x509.Name:
    """A certificate of `key` for the common name `name`, valid for a day, written to `path`
    (PEM): signed by `issuer` (its name and key), else by `key` itself. `for_localhost`:
    valid for localhost and 127.0.0.1. Returns its subject, to issue others with."""
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    issuer_name, signer = issuer if issuer else (subject, key)
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
    )
    if for_localhost:
        builder = builder.add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
    path.write_bytes(builder.sign(signer, hashes.SHA256()).public_bytes(serialization.Encoding.PEM))
    return subject


def self_signed_certificate(folder: Path) -> Certificate:
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    key = write_key(keyfile)
    write_certificate(certfile, "gameserver test", key, ca=True, for_localhost=True)
    return Certificate(certfile, keyfile)
