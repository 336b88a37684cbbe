"""The control plane's keys and certificates: one CA, the serving certificate, the admin, the SA keys."""

from __future__ import annotations

import datetime
import ipaddress
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

Key = ec.EllipticCurvePrivateKey
# Client identities in system:masters: the admin (tests, kubectl), and one for an operator run by a
# benchmark, so the API server's audit log tells the operator's requests from everybody else's.
CLIENTS = ("admin", "ens-image-operator")


def _name(common_name: str, organization: str | None = None) -> x509.Name:
    parts = [x509.NameAttribute(NameOID.COMMON_NAME, common_name)]
    if organization:
        parts.insert(0, x509.NameAttribute(NameOID.ORGANIZATION_NAME, organization))
    return x509.Name(parts)


def _write_key(key: Key | rsa.RSAPrivateKey, path: Path) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    path.write_bytes(pem)
    path.chmod(0o600)


def _key_usage(ca: bool) -> x509.KeyUsage:
    flags = dict.fromkeys(
        ["content_commitment", "data_encipherment", "key_agreement", "encipher_only", "decipher_only"], False
    )
    return x509.KeyUsage(
        digital_signature=True, key_encipherment=not ca, key_cert_sign=ca, crl_sign=ca, **flags
    )


def _certificate(
    subject: x509.Name,
    key: Key,
    issuer: x509.Name,
    issuer_key: Key,
    *,
    ca: bool = False,
    usage: x509.ObjectIdentifier | None = None,
    san: list[x509.GeneralName] | None = None,
) -> x509.Certificate:
    now = datetime.datetime.now(datetime.UTC)
    builder = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))
        .not_valid_after(now + datetime.timedelta(days=7))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(_key_usage(ca), critical=True)
    )
    if usage is not None:
        builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
    if san:
        builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
    return builder.sign(issuer_key, hashes.SHA256())


def write_pki(directory: Path) -> None:
    """ca.crt, apiserver.{crt,key}, a .crt and .key per client of CLIENTS, sa.{key,pub} in ``directory``."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = _name("ens-image-operator-test-ca")
    ca = _certificate(ca_name, ca_key, ca_name, ca_key, ca=True)
    (directory / "ca.crt").write_bytes(ca.public_bytes(serialization.Encoding.PEM))

    serving_key = ec.generate_private_key(ec.SECP256R1())
    san: list[x509.GeneralName] = [
        x509.DNSName("localhost"),
        x509.IPAddress(ipaddress.ip_address("127.0.0.1")),
    ]
    serving = _certificate(
        _name("kube-apiserver"), serving_key, ca_name, ca_key, usage=ExtendedKeyUsageOID.SERVER_AUTH, san=san
    )
    (directory / "apiserver.crt").write_bytes(serving.public_bytes(serialization.Encoding.PEM))
    _write_key(serving_key, directory / "apiserver.key")

    for user in CLIENTS:
        client_key = ec.generate_private_key(ec.SECP256R1())
        client = _certificate(
            _name(user, "system:masters"), client_key, ca_name, ca_key, usage=ExtendedKeyUsageOID.CLIENT_AUTH
        )
        (directory / f"{user}.crt").write_bytes(client.public_bytes(serialization.Encoding.PEM))
        _write_key(client_key, directory / f"{user}.key")

    sa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    _write_key(sa_key, directory / "sa.key")
    (directory / "sa.pub").write_bytes(
        sa_key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
