"""What TLS costs the hub: the same feedsim swarm against a hub with and without --tls-cert, in
alternating pairs, on a CA and certificate made here. For each run: deliveries per second, the hub's
deliveries per CPU-second and RSS growth per connection (from its /stats over the swarm's measured
window), and the clients' p99. feedsim pays for TLS too, on the same cores: trust the ratios.

    .venv/bin/python Benchmarks/e2e/tls_cost.py [--clients 2000] [--rate 1000] [--pairs 3]
"""
import argparse
import datetime
import ipaddress
import json
import ssl
import statistics
import subprocess
import tempfile
import time
import urllib.request
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

BIN = Path(__file__).resolve().parents[2] / ".build" / "release"


def make_certificates(directory: Path):
    now = datetime.datetime.now(datetime.timezone.utc)
    ca_key, key = ec.generate_private_key(ec.SECP256R1()), ec.generate_private_key(ec.SECP256R1())
    ca_name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "tls_cost CA")])
    ca = (x509.CertificateBuilder().subject_name(ca_name).issuer_name(ca_name).public_key(ca_key.public_key())
          .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(minutes=5))
          .not_valid_after(now + datetime.timedelta(days=1))
          .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True).sign(ca_key, hashes.SHA256()))
    cert = (x509.CertificateBuilder().subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")]))
            .issuer_name(ca_name).public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=5)).not_valid_after(now + datetime.timedelta(days=1))
            .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
                           critical=False).sign(ca_key, hashes.SHA256()))
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    (directory / "hub.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (directory / "hub.key").write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                          serialization.NoEncryption()))


def run(tls: bool, port: int, certs: Path, args) -> dict:
    context = ssl.create_default_context(cafile=str(certs / "ca.pem"))

    def stats():
        url = f"{'https' if tls else 'http'}://127.0.0.1:{port}/stats"
        return json.loads(urllib.request.urlopen(url, context=context if tls else None, timeout=5).read())

    command = [str(BIN / "tickerhub"), "--port", str(port), "--symbols", "500", "--rate", str(args.rate)]
    if tls:
        command += ["--tls-cert", str(certs / "hub.pem"), "--tls-key", str(certs / "hub.key")]
    hub = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        time.sleep(2)
        idle = stats()
        scheme = "wss" if tls else "ws"
        summary_file = certs / f"swarm-{scheme}-{port}.json"
        swarm = subprocess.Popen([str(BIN / "feedsim"), "swarm", "--url", f"{scheme}://localhost:{port}/ws",
                                  "--ca-file", str(certs / "ca.pem"), "--clients", str(args.clients), "--subscribe", "10",
                                  "--spread", "even", "--duration", str(args.seconds), "--warmup", "3", "--settle", "5",
                                  "--threads", "1", "--json", str(summary_file)],
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        start = end = None
        for line in swarm.stdout:  # the hub is read over the swarm's measured window
            if line.startswith("t=") and start is None:
                start, started = stats(), time.time()
            if line.startswith("swarm summary"):
                end, ended = stats(), time.time()
                break
        swarm.communicate()
        summary = json.loads(summary_file.read_text())
    finally:
        hub.terminate()
        hub.wait()
    deliveries = end["deliveries"] - start["deliveries"]
    return {
        "scheme": scheme,
        "deliveriesPerSecond": deliveries / (ended - started),
        "deliveriesPerCPUSecond": deliveries / ((end["cpuMicros"] - start["cpuMicros"]) / 1e6),
        "rssKiBPerConnection": (end["rssBytes"] - idle["rssBytes"]) / args.clients / 1024,
        "p99Ms": summary["latencyMs"]["p99"],
        "failed": summary["failed"],
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=2000)
    parser.add_argument("--rate", type=int, default=1000)
    parser.add_argument("--seconds", type=int, default=15)
    parser.add_argument("--pairs", type=int, default=3)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        certs = Path(folder)
        make_certificates(certs)
        runs = [run(tls, 18700 + index * 2 + tls, certs, args) for index in range(args.pairs) for tls in (False, True)]
    for result in runs:
        print(json.dumps(result))
    print(f"\n{args.clients} × 10 symbols at {args.rate} ticks/s, median of {args.pairs}:")
    print("| | deliveries/s | deliveries / hub CPU-s | hub RSS / connection | client p99 |\n|---|---|---|---|---|")
    for scheme in ("ws", "wss"):
        mine = [r for r in runs if r["scheme"] == scheme]
        median = {key: statistics.median(r[key] for r in mine) for key in ("deliveriesPerSecond", "deliveriesPerCPUSecond",
                                                                             "rssKiBPerConnection", "p99Ms")}
        print(f"| {scheme} | {median['deliveriesPerSecond']:,.0f} | {median['deliveriesPerCPUSecond']:,.0f} | "
              f"{median['rssKiBPerConnection']:.1f} KiB | {median['p99Ms']:.1f} ms |")


if __name__ == "__main__":
    main()
