"""The cluster's TLS keys: a self-signed certificate (the cluster's own CA) and its private key, the kind Dask's
``Security.temporary()`` makes, but in files, so that workers in other PBS jobs and this runtime's commands can
use them. The agent makes new ones before it starts a new scheduler, so a cluster started again never accepts an old
worker or client; they exist before any job that names them can start (dask worker refuses a missing file).

The files live in the cluster's directory, which is made private, and are written 0600 from the first byte: the key
never passes through argv, the environment, a PBS attribute or a log. ``distributed`` and ``cryptography`` are
imported only when keys are made or used: the status probe's HTTP path must stay fast.
"""
import datetime
import os

from .common import SCHEDULER_FILE, TLS_CERT_FILE, TLS_KEY_FILE, read_json, tcp_reachable

VALID_DAYS = 365  # as Security.temporary(); a cluster lives for days at most


class TlsError(Exception):
    """The cluster's keys are missing or unreadable: the message says what to do."""


def paths(cdir):
    return os.path.join(cdir, TLS_CERT_FILE), os.path.join(cdir, TLS_KEY_FILE)


def _generate(common_name):
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import rsa
    from cryptography.x509.oid import NameOID

    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = datetime.datetime.utcnow()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # nodes' clocks differ a little
        .not_valid_after(now + datetime.timedelta(days=VALID_DAYS))
        .sign(key, hashes.SHA256())
    )
    key_pem = key.private_bytes(
        encoding=serialization.Encoding.PEM,
        format=serialization.PrivateFormat.PKCS8,
        encryption_algorithm=serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


def _write_private(path, data):
    tmp = "%s.tmp-%d" % (path, os.getpid())
    try:
        os.remove(tmp)
    except FileNotFoundError:
        pass
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def make(cdir, cluster):
    """New keys for the cluster, replacing any it had; the directory becomes private (0700)."""
    os.makedirs(cdir, exist_ok=True)
    os.chmod(cdir, 0o700)
    cert_pem, key_pem = _generate("gadi-dask %s" % cluster)
    cert, key = paths(cdir)
    # The key first: a reader that sees the new certificate finds its key already in place.
    _write_private(key, key_pem)
    _write_private(cert, cert_pem)
    return cert, key


def renew(cdir, cluster):
    """New keys for a scheduler about to start, unless the published one still accepts connections: it keeps the
    keys it loaded, and its workers and clients need the same."""
    sched = read_json(os.path.join(cdir, SCHEDULER_FILE))
    address = sched.get("address") if isinstance(sched, dict) else None
    if address and tcp_reachable(address, 2.0):
        return False
    make(cdir, cluster)
    return True


def ensure(cdir, cluster):
    """The cluster's keys, made only when missing (a launcher started by hand)."""
    cert, key = paths(cdir)
    if not (os.path.exists(cert) and os.path.exists(key)):
        make(cdir, cluster)


def security(cdir):
    """The cluster's ``Security`` for every role (the certificate is its own CA), encryption required."""
    from distributed.security import Security

    cert, key = paths(cdir)
    for path in (cert, key):
        if not os.access(path, os.R_OK):
            raise TlsError("the cluster's TLS file %s is missing or unreadable; run down, then start the cluster "
                           "again to make new keys" % path)
    roles = {}
    for role in ("client", "scheduler", "worker"):
        roles["tls_%s_cert" % role] = cert
        roles["tls_%s_key" % role] = key
    return Security(require_encryption=True, tls_ca_file=cert, **roles)


def connection_args(cdir, address):
    """What ``rpc``/``Client`` need to reach the scheduler at `address`: the cluster's keys for ``tls://``."""
    from distributed.security import Security

    if str(address).startswith("tls://"):
        return security(cdir).get_connection_args("client")
    return Security().get_connection_args("client")


def server_context(cdir):
    """TLS for a server of the cluster that only holders of its keys may use: its certificate, the client's required
    and checked against the cluster's own CA (the dashboard's door, dashboard_door.py)."""
    import ssl

    cert, key = paths(cdir)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(cert, key)
    ctx.load_verify_locations(cert)
    ctx.verify_mode = ssl.CERT_REQUIRED
    return ctx


def client_context(cdir):
    """TLS for this runtime's own requests to such a server: the cluster's keys, its CA, no host name to check (the
    certificate names the cluster, not a node)."""
    import ssl

    cert, key = paths(cdir)
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.load_verify_locations(cert)
    ctx.load_cert_chain(cert, key)
    return ctx
