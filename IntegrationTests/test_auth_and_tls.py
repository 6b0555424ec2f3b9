"""Access tokens and TLS, against the real hub (docs/PROTOCOL.md, "Authentication"; SECURITY.md):
tokens signed by PyJWT with each algorithm the hub takes, the refusals at the handshake, the
entitlement on a live connection, refresh and expiry; and TLS with a CA of our own, for Python
websockets, plain HTTPS and feedsim's wss://."""
import asyncio
import base64
import datetime
import hashlib
import hmac
import http.client
import ipaddress
import json
import math
import signal
import socket
import ssl
import time
import urllib.error
import urllib.request

import jwt
import pytest
import websockets
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import NameOID

from conftest import feedsim, handshake_status
from rawws import RawWebSocket, text_frame

SECRET = "integration-test-secret-32-bytes-or-more"


def token(secret=SECRET, algorithm="HS256", expires_in=60.0, sub="desk-7", symbols=("AAPL", "MS*"), **claims):
    """A token valid for at least `expires_in` seconds from now (`exp` is whole seconds: rounded up)."""
    payload = {"sub": sub, "exp": math.ceil(time.time() + expires_in), **claims}
    if symbols is not None:
        payload["symbols"] = list(symbols)
    return jwt.encode(payload, secret, algorithm=algorithm)


def handshake(url, headers=None, ssl_context=None):
    """The status of a subscriber's handshake with these headers (101 when it upgrades), and the refusal."""
    return handshake_status(url, additional_headers=headers, ssl=ssl_context)


def http_get(url, headers=None, context=None):
    request = urllib.request.Request(url, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=5, context=context) as response:
            return response.status, response.read().decode(), response.headers
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode(), error.headers


@pytest.fixture
def auth_hub(start_hub):
    return start_hub("--symbols", "AAPL,MSFT,GOOG,TSLA", "--rate", "400", "--auth-secret", SECRET)


def test_the_handshake_needs_a_valid_token(auth_hub):
    url = auth_hub.ws_url
    status, response = handshake(url)
    assert status == 401
    assert json.loads(response.body)["code"] == "token_required"
    assert response.headers["WWW-Authenticate"].startswith("Bearer")
    cases = {
        "forged": (token(secret="another-secret-that-is-32-bytes-long!!"), "invalid_token"),
        "expired": (token(expires_in=-10), "token_expired"),
        "garbage": ("not-a-jwt", "invalid_token"),
        "alg none": (jwt.encode({"sub": "x", "exp": int(time.time() + 60), "symbols": ["*"]}, None, algorithm="none"), "invalid_token"),
        "no exp": (jwt.encode({"sub": "x", "symbols": ["*"]}, SECRET, algorithm="HS256"), "invalid_token"),
    }
    for name, (bad, code) in cases.items():
        status, response = handshake(url, {"Authorization": f"Bearer {bad}"})
        assert status == 401, name
        assert json.loads(response.body)["code"] == code, name
        assert "error=\"invalid_token\"" in response.headers["WWW-Authenticate"], name
    assert handshake(url, {"Authorization": f"Bearer {token()}"})[0] == 101
    assert handshake(f"{url}?token={token()}")[0] == 101, "browsers put it in the query"
    stats = auth_hub.get_json("/stats")
    assert stats["authRefusals"] == 1 + len(cases)
    assert "tickerhub_auth_refusals_total 6" in auth_hub.get("/metrics")[1]


def test_the_market_data_reads_over_http_need_one_too(auth_hub):
    status, body, _ = http_get(auth_hub.http + "/v1/symbols")
    assert status == 401 and json.loads(body)["code"] == "token_required"
    bearer = {"Authorization": f"Bearer {token()}"}
    status, body, _ = http_get(auth_hub.http + "/v1/symbols", bearer)
    assert status == 200 and sorted(json.loads(body)) == ["AAPL", "MSFT"], "only what the token grants"
    status, body, _ = http_get(auth_hub.http + "/v1/snapshot?symbols=AAPL,GOOG", bearer)
    assert status == 403 and json.loads(body)["code"] == "not_entitled"
    deadline = time.time() + 10
    while True:
        status, body, _ = http_get(auth_hub.http + "/v1/snapshot", bearer)
        assert status == 200
        if len(json.loads(body)) == 2 or time.time() > deadline:
            break
        time.sleep(0.2)
    assert sorted(s["symbol"] for s in json.loads(body)) == ["AAPL", "MSFT"]
    # What carries no prices stays open: health, the page, the operator figures.
    assert auth_hub.get("/healthz")[0] == 200
    assert auth_hub.get("/")[0] == 200
    assert auth_hub.get("/stats")[0] == 200


def test_a_subscribe_gets_what_the_token_grants_and_not_entitled_for_the_rest(auth_hub):
    async def run():
        async with websockets.connect(auth_hub.ws_url, additional_headers={"Authorization": f"Bearer {token()}"}) as ws:
            welcome = json.loads(await ws.recv())
            assert abs(welcome["tokenExpiresAt"] / 1000 - (time.time() + 60)) < 5
            await ws.send(json.dumps({"op": "subscribe", "id": 1, "symbols": ["AAPL", "GOOG", "MSFT", "TSLA"]}))
            ack = json.loads(await ws.recv())
            assert ack == {"type": "ack", "id": 1, "op": "subscribe", "symbols": ["AAPL", "MSFT"]}
            answers = [json.loads(await ws.recv()) for _ in range(3)]
            assert sorted(m["symbol"] for m in answers if m["type"] == "snapshot") == ["AAPL", "MSFT"]
            error = next(m for m in answers if m["type"] == "error")
            assert error["code"] == "not_entitled" and error["id"] == 1 and error["symbols"] == ["GOOG", "TSLA"]
            # None granted: only the error, nothing subscribed.
            await ws.send(json.dumps({"op": "subscribe", "id": 2, "symbols": ["GOOG"]}))
            while (m := json.loads(await ws.recv()))["type"] in ("quote", "trade"):
                assert m["symbol"] in ("AAPL", "MSFT")
            assert m["type"] == "error" and m["code"] == "not_entitled" and m["id"] == 2
            await ws.send(json.dumps({"op": "list", "id": 3}))
            while (m := json.loads(await ws.recv()))["type"] != "symbols":
                assert m["type"] in ("quote", "trade") and m["symbol"] in ("AAPL", "MSFT")
            assert sorted(m["symbols"]) == ["AAPL", "MSFT"]
    asyncio.run(run())
    assert auth_hub.get_json("/stats")["entitlementRefusals"] == 2


def test_a_refreshed_token_keeps_the_connection_and_an_expired_one_closes_it_with_4001(auth_hub):
    async def run():
        # Lifetimes with room for a loaded machine: the refusals and the refresh take well under 4 s.
        first = token(expires_in=4)
        first_expiry = jwt.decode(first, options={"verify_signature": False})["exp"]
        async with websockets.connect(auth_hub.ws_url, additional_headers={"Authorization": f"Bearer {first}"}) as ws:
            json.loads(await ws.recv())
            await ws.send(json.dumps({"op": "subscribe", "id": 1, "symbols": ["AAPL", "MSFT"]}))
            # A refresh that fails changes nothing: another subject, a forged one, an expired one.
            refusals = [
                (token(sub="someone-else", expires_in=60), "invalid_token"),
                (token(secret="another-secret-that-is-32-bytes-long!!"), "invalid_token"),
                (token(expires_in=-1), "token_expired"),
            ]
            for index, (bad, code) in enumerate(refusals, start=10):
                await ws.send(json.dumps({"op": "auth", "id": index, "token": bad}))
                errors = {}
                while len(errors) < 1:
                    m = json.loads(await ws.recv())
                    if m["type"] == "error":
                        errors[m["id"]] = m["code"]
                assert errors == {index: code}
            # A good one, granting less: in force at once, and MSFT's subscription ends.
            await ws.send(json.dumps({"op": "auth", "id": 20, "token": token(expires_in=8, symbols=["AAPL"])}))
            ack = None
            while ack is None:
                m = json.loads(await ws.recv())
                if m["type"] == "ack" and m["op"] == "auth":
                    ack = m
            assert ack["id"] == 20 and abs(ack["tokenExpiresAt"] / 1000 - (time.time() + 8)) < 2
            m = json.loads(await ws.recv())
            while m["type"] != "error":
                m = json.loads(await ws.recv())
            assert m["code"] == "not_entitled" and m["symbols"] == ["MSFT"] and m["id"] == 20
            # Until past the first token's expiry the connection is alive, and only AAPL flows.
            symbols = set()
            while time.time() < first_expiry + 1:
                m = json.loads(await ws.recv())
                if m["type"] in ("quote", "trade"):
                    symbols.add(m["symbol"])
            assert symbols == {"AAPL"}
            # Then the second one lapses: 4001, within a second of it.
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await ws.recv()
            assert closed.value.rcvd.code == 4001 and closed.value.rcvd.reason == "token expired"
            assert time.time() < ack["tokenExpiresAt"] / 1000 + 1.5
    asyncio.run(run())
    assert auth_hub.get_json("/stats")["tokenExpiries"] == 1


def test_one_token_check_at_a_time_per_connection(auth_hub):
    """Four `auth` requests in one TCP segment: the first is checked, the three that arrive while it
    is are refused at once, so a client cannot pile up signature checks."""
    client = RawWebSocket(auth_hub.port, path=f"/ws?token={token()}")
    assert client.recv_json()["type"] == "welcome"
    client.sock.sendall(b"".join(text_frame(json.dumps({"op": "auth", "id": i, "token": token()}).encode()) for i in range(30, 34)))
    answers = {}
    while len(answers) < 4:
        m = client.recv_json()
        answers[m["id"]] = m.get("code", m["type"])
    assert answers == {30: "ack", 31: "invalid_request", 32: "invalid_request", 33: "invalid_request"}
    client.close()


def test_rs256_and_es256_public_keys(start_hub, tmp_path):
    rsa_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    ec_key = ec.generate_private_key(ec.SECP256R1())
    for name, key, algorithm in (("rsa", rsa_key, "RS256"), ("ec", ec_key, "ES256")):
        public_pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        (tmp_path / f"{name}.pub").write_bytes(public_pem)
        private_pem = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        hub = start_hub("--symbols", "AAPL,MSFT", "--auth-public-key", str(tmp_path / f"{name}.pub"))
        assert f"auth={algorithm}" in hub.log_text()
        assert handshake(hub.ws_url, {"Authorization": f"Bearer {token(private_pem, algorithm)}"})[0] == 101
        other = (rsa.generate_private_key(public_exponent=65537, key_size=2048) if name == "rsa"
                 else ec.generate_private_key(ec.SECP256R1()))
        other_pem = other.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption())
        assert handshake(hub.ws_url, {"Authorization": f"Bearer {token(other_pem, algorithm)}"})[0] == 401
        # The algorithm confusion: an HS256 token keyed with the public key the hub trusts.
        # (PyJWT refuses to sign with a PEM as an HMAC secret, so the signature is made by hand.)
        header, payload, _ = token("placeholder").split(".")
        signature = hmac.new(public_pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        forged = f"{header}.{payload}." + base64.urlsafe_b64encode(signature).rstrip(b"=").decode()
        assert handshake(hub.ws_url, {"Authorization": f"Bearer {forged}"})[0] == 401
        hub.stop()


def test_publishers_need_the_secret_or_a_publish_claim(start_hub):
    hub = start_hub("--feed", "ingest", "--auth-secret", SECRET, "--ingest-token", "ingest-secret")
    ingest = f"ws://127.0.0.1:{hub.port}/ingest"
    assert handshake(ingest)[0] == 401
    status, response = handshake(ingest, {"Authorization": f"Bearer {token()}"})
    assert status == 403 and json.loads(response.body)["code"] == "not_publisher"
    # The secret: any symbol. A token whose publish claim grants the simulator's symbols works too.
    result = feedsim("publish", "--url", ingest, "--token", "ingest-secret", "--count", "200", "--symbols", "5")
    assert result.returncode == 0, result.stderr
    publisher = token(publish=True, symbols=None)
    result = feedsim("publish", "--url", ingest, "--token", publisher, "--count", "200", "--symbols", "5")
    assert result.returncode == 0, result.stderr
    # One whose claim does not cover them is closed with 1008 at its first tick.
    narrow = token(publish=["EUR/*"], symbols=None)
    result = feedsim("publish", "--url", ingest, "--token", narrow, "--count", "200", "--symbols", "5")
    assert result.returncode == 3 and "1008" in result.stderr, (result.returncode, result.stderr[-500:])
    assert "not entitled to publish" in hub.log_text()
    assert hub.get_json("/stats")["ingestRejected"] >= 1


# ---- TLS ----------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A CA of our own, and a hub certificate it signed for localhost and 127.0.0.1."""
    directory = tmp_path_factory.mktemp("tls")
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "TickerHub test CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
          .sign(ca_key, hashes.SHA256()))
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(ca_key, hashes.SHA256()))
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "hub.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "hub.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))
    return directory


def test_tls_serves_wss_and_https_with_deflate(start_hub, certificates):
    hub = start_hub("--symbols", "AAPL,MSFT", "--rate", "400",
                    "--tls-cert", str(certificates / "hub.pem"), "--tls-key", str(certificates / "hub.key"))
    context = ssl.create_default_context(cafile=str(certificates / "ca.pem"))
    status, body, _ = http_get(f"https://127.0.0.1:{hub.port}/healthz", context=context)
    assert status == 200 and body == "ok\n"

    async def run():
        async with websockets.connect(f"wss://localhost:{hub.port}/ws", ssl=context, compression="deflate") as ws:
            assert json.loads(await ws.recv())["type"] == "welcome"
            assert ws.protocol.extensions, "permessage-deflate over TLS"
            await ws.send(json.dumps({"op": "subscribe", "id": 1, "symbols": ["AAPL"]}))
            seen = [json.loads(await ws.recv()) for _ in range(5)]
            assert seen[0]["type"] == "ack" and seen[1]["type"] == "snapshot"
            assert all(m["symbol"] == "AAPL" for m in seen[2:])
    asyncio.run(run())
    # Plain text on the TLS port is not served; a client that does not trust the CA is refused.
    # (A connection the TLS handler drops, not an error of some other kind: the hub must be alive.)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError, urllib.error.URLError)) as plain:
        urllib.request.urlopen(f"http://127.0.0.1:{hub.port}/healthz", timeout=3)
    assert not isinstance(getattr(plain.value, "reason", None), (ConnectionRefusedError, TimeoutError)), plain.value
    assert hub.process.poll() is None
    with pytest.raises(ssl.SSLCertVerificationError):
        asyncio.run(websockets.connect(f"wss://127.0.0.1:{hub.port}/ws", ssl=ssl.create_default_context()).__aenter__())


def test_tls_with_auth_closes_an_expired_connection_cleanly(start_hub, certificates):
    """The hub's own Close (4001), then its half-close of TCP, must reach a TLS client intact."""
    hub = start_hub("--symbols", "AAPL", "--auth-secret", SECRET,
                    "--tls-cert", str(certificates / "hub.pem"), "--tls-key", str(certificates / "hub.key"))
    context = ssl.create_default_context(cafile=str(certificates / "ca.pem"))

    async def run():
        async with websockets.connect(f"wss://127.0.0.1:{hub.port}/ws?token={token(expires_in=3)}", ssl=context) as ws:
            with pytest.raises(websockets.ConnectionClosed) as closed:
                while True:
                    await ws.recv()
            assert closed.value.rcvd.code == 4001
    asyncio.run(run())


def test_feedsim_swarms_over_wss_with_a_token(start_hub, certificates):
    hub = start_hub("--symbols", "20", "--rate", "500", "--auth-secret", SECRET,
                    "--tls-cert", str(certificates / "hub.pem"), "--tls-key", str(certificates / "hub.key"))
    result = feedsim("swarm", "--url", f"wss://localhost:{hub.port}/ws", "--ca-file", str(certificates / "ca.pem"),
                     "--token", token(symbols=["*"]), "--clients", "40", "--subscribe", "3", "--duration", "2",
                     "--warmup", "0.5", "--settle", "5", "--threads", "1")
    assert result.returncode == 0, result.stderr
    assert "40 connected, 0 failed" in result.stdout
    assert "0 mismatches" in result.stdout
    # Without the CA, the hub's certificate is not trusted: no connection.
    result = feedsim("swarm", "--url", f"wss://localhost:{hub.port}/ws", "--token", token(symbols=["*"]),
                     "--clients", "1", "--duration", "1", "--warmup", "0")
    assert result.returncode != 0


def self_signed(directory, name: str):
    """A self-signed EC certificate and key for 127.0.0.1, written as name.pem and name.key."""
    now = datetime.datetime.now(datetime.timezone.utc)
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    cert = (x509.CertificateBuilder().subject_name(subject).issuer_name(subject).public_key(key.public_key())
            .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
            .not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
            .sign(key, hashes.SHA256()))
    (directory / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / f"{name}.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                              serialization.NoEncryption()))
    return cert.public_bytes(serialization.Encoding.DER)


def served_certificate(port: int, ciphers: str | None = None, tls12_only: bool = False) -> bytes:
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    if tls12_only:
        context.maximum_version = ssl.TLSVersion.TLSv1_2
    if ciphers:
        context.set_ciphers(ciphers)
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with context.wrap_socket(raw) as tls:
            return tls.getpeercert(binary_form=True)


def test_tls_12_offers_only_forward_secret_aead_suites(start_hub, tmp_path):
    self_signed(tmp_path, "hub")
    hub = start_hub("--symbols", "AAPL", "--tls-cert", str(tmp_path / "hub.pem"), "--tls-key", str(tmp_path / "hub.key"))
    assert served_certificate(hub.port, "ECDHE-ECDSA-AES128-GCM-SHA256", tls12_only=True)
    # CBC (and, with an RSA key, static-RSA key exchange) is not offered: the handshake fails.
    with pytest.raises(ssl.SSLError):
        served_certificate(hub.port, "ECDHE-ECDSA-AES128-SHA:ECDHE-ECDSA-AES256-SHA", tls12_only=True)
    assert hub.process.poll() is None


def test_sighup_reloads_the_certificate_for_new_connections(start_hub, tmp_path):
    first = self_signed(tmp_path, "hub")
    hub = start_hub("--symbols", "AAPL", "--tls-cert", str(tmp_path / "hub.pem"), "--tls-key", str(tmp_path / "hub.key"))
    assert served_certificate(hub.port) == first
    # A renewal writes new files, then signals the hub.
    (tmp_path / "renewed").mkdir()
    renewed = self_signed(tmp_path / "renewed", "hub")
    for suffix in ("pem", "key"):
        (tmp_path / f"hub.{suffix}").write_bytes((tmp_path / "renewed" / f"hub.{suffix}").read_bytes())
    hub.process.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while served_certificate(hub.port) != renewed:
        assert time.time() < deadline, "the renewed certificate is not served"
        time.sleep(0.1)
    assert "TLS certificate and key reloaded" in hub.log_text()
    # A broken renewal keeps the working certificate.
    (tmp_path / "hub.key").write_text("not a key")
    hub.process.send_signal(signal.SIGHUP)
    deadline = time.time() + 10
    while "TLS reload failed" not in hub.log_text():
        assert time.time() < deadline
        time.sleep(0.1)
    assert served_certificate(hub.port) == renewed
    assert hub.process.poll() is None


def test_a_tls_connection_past_the_limits_is_closed_before_its_handshake(start_hub, tmp_path):
    """Refusing a TLS connection with an HTTP answer would cost a handshake: it is closed at once."""
    self_signed(tmp_path, "hub")
    hub = start_hub("--symbols", "AAPL", "--max-connections-per-ip", "1",
                    "--tls-cert", str(tmp_path / "hub.pem"), "--tls-key", str(tmp_path / "hub.key"))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.check_hostname, context.verify_mode = False, ssl.CERT_NONE
    # A finished handshake: the hub has accepted this one, and counted it.
    held = context.wrap_socket(socket.create_connection(("127.0.0.1", hub.port), source_address=("127.0.0.40", 0)))
    refused = socket.create_connection(("127.0.0.1", hub.port), source_address=("127.0.0.40", 0))
    refused.settimeout(5)
    assert refused.recv(1) == b"", "closed, with no ServerHello or anything else"
    # Another client is served.
    assert served_certificate(hub.port)
    held.close()
    refused.close()
    assert hub.process.poll() is None
