"""deploy/ checked with the real tools: promtool on the scrape config and the rules (and the rules'
unit tests); a real Prometheus scraping running hubs, through whose HTTP API every expression of the
Grafana dashboard and of the rules returns data (and the feed-stalled alert picks out the hub with no
feed); systemd-analyze on the unit; and the example config file, read by the hub."""
import json
import re
import os
import shutil
import subprocess
import time
import urllib.parse
import urllib.request

import pytest
import yaml

from conftest import BIN_DIR, ROOT, free_port

DEPLOY = ROOT / "deploy"


def tool(name):
    path = shutil.which(name)
    assert path, f"{name} is missing: scripts/bootstrap.sh test installs it (apt prometheus)"
    return path



def test_promtool_accepts_the_config_and_the_rules_and_their_tests_pass():
    promtool = tool("promtool")
    for args in (["check", "config", str(DEPLOY / "prometheus" / "prometheus.yml")],
                 ["check", "rules", str(DEPLOY / "prometheus" / "tickerhub-rules.yml")],
                 ["test", "rules", str(DEPLOY / "prometheus" / "tickerhub-rules.test.yml")]):
        result = subprocess.run([promtool, *args], capture_output=True, text=True, timeout=60)
        assert result.returncode == 0, f"promtool {' '.join(args)}:\n{result.stdout}{result.stderr}"


def dashboard_expressions():
    dashboard = json.loads((DEPLOY / "grafana" / "tickerhub-dashboard.json").read_text())
    for panel in dashboard["panels"]:
        for target in panel["targets"]:
            # Grafana's variables, as Grafana would fill them in with "All" and a short range.
            expr = target["expr"].replace("$__rate_interval", "1m").replace('instance=~"$instance"', 'instance=~".*"')
            yield f"{panel['title']} / {target['legendFormat']}", expr


def rule_expressions():
    rules = yaml.safe_load((DEPLOY / "prometheus" / "tickerhub-rules.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
            yield rule.get("record") or rule["alert"], rule["expr"]


class Prometheus:
    def __init__(self, targets, workdir):
        self.port = free_port()
        config = yaml.safe_load((DEPLOY / "prometheus" / "prometheus.yml").read_text())
        config["global"].update(scrape_interval="1s", evaluation_interval="1s")
        config["scrape_configs"][0]["static_configs"] = [{"targets": targets}]
        rules = yaml.safe_load((DEPLOY / "prometheus" / "tickerhub-rules.yml").read_text())
        for group in rules["groups"]:
            group["interval"] = "1s"
        (workdir / "tickerhub-rules.yml").write_text(yaml.safe_dump(rules))
        (workdir / "prometheus.yml").write_text(yaml.safe_dump(config))
        self.log = open(workdir / "prometheus.log", "w")
        self.process = subprocess.Popen([tool("prometheus"), f"--config.file={workdir / 'prometheus.yml'}",
                                         f"--storage.tsdb.path={workdir / 'data'}", f"--web.listen-address=127.0.0.1:{self.port}"],
                                        stdout=self.log, stderr=subprocess.STDOUT)
        self.url = f"http://127.0.0.1:{self.port}"
        deadline = time.time() + 30
        while time.time() < deadline:
            try:
                with urllib.request.urlopen(self.url + "/-/ready", timeout=2) as response:
                    if response.status == 200:
                        return
            except OSError:
                time.sleep(0.2)
        raise RuntimeError("prometheus did not start:\n" + (workdir / "prometheus.log").read_text())

    def api(self, path, **params):
        with urllib.request.urlopen(f"{self.url}/api/v1/{path}?{urllib.parse.urlencode(params)}", timeout=10) as response:
            body = json.loads(response.read())
        assert body["status"] == "success", body
        return body["data"]

    def query(self, expr):
        return self.api("query", query=expr)["result"]

    def stop(self):
        self.process.terminate()
        self.process.wait(timeout=20)
        self.log.close()


def test_a_real_prometheus_gets_data_for_every_dashboard_and_rule_expression(start_hub, tmp_path):
    live = start_hub("--symbols", "50", "--rate", "500", "--admin-port", "0", "--history", "100")
    admin = int(re.search(r"admin_address=127\.0\.0\.1:(\d+)", live.log_text()).group(1))
    stalled = start_hub("--feed", "ingest")     # no publisher: its feed is stalled
    swarm = subprocess.Popen([str(BIN_DIR / "feedsim"), "swarm", "--url", live.ws_url, "--clients", "20", "--subscribe", "5",
                              "--duration", "40", "--warmup", "1", "--threads", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    prometheus = Prometheus([f"127.0.0.1:{admin}", f"127.0.0.1:{stalled.port}"], tmp_path)
    try:
        # Up, both of them, and the rules loaded and healthy.
        deadline = time.time() + 30
        while time.time() < deadline:
            targets = prometheus.api("targets")["activeTargets"]
            if len(targets) == 2 and all(t["health"] == "up" for t in targets):
                break
            time.sleep(0.5)
        assert all(t["health"] == "up" for t in targets), targets
        time.sleep(8)   # enough samples for rates over [1m], and the rules evaluated a few times
        groups = prometheus.api("rules")["groups"]
        assert {g["name"] for g in groups} == {"tickerhub.signals", "tickerhub.alerts"}
        assert all(rule["health"] == "ok" for g in groups for rule in g["rules"]), groups

        missing = []
        for name, expr in list(dashboard_expressions()) + list(rule_expressions()):
            # An alert's condition is empty unless it fires: ask for the signal it compares.
            signal = re.split(r"\s(?:>|<|==|>=|<=|!=)\s", expr)[0]
            if not prometheus.query(signal):
                missing.append(f"{name}: {signal}")
        assert not missing, "no data for:\n" + "\n".join(missing)

        # The live hub's signals are what it is doing; the stalled one is the one the alert names.
        ticks = {r["metric"]["instance"]: float(r["value"][1]) for r in prometheus.query("tickerhub:ticks_in:rate1m")}
        assert ticks[f"127.0.0.1:{admin}"] > 0 and ticks[f"127.0.0.1:{stalled.port}"] == 0
        stalled_alert = dict(rule_expressions())["TickerHubFeedStalled"]
        assert [r["metric"]["instance"] for r in prometheus.query(stalled_alert)] == [f"127.0.0.1:{stalled.port}"]
        connections = prometheus.query(f'tickerhub_connections{{instance="127.0.0.1:{admin}"}}')
        assert float(connections[0]["value"][1]) >= 20
    finally:
        prometheus.stop()
        swarm.kill()
        swarm.wait()


def test_the_systemd_unit_verifies(tmp_path):
    analyze = shutil.which("systemd-analyze")
    if analyze is None:
        if os.environ.get("CI"):
            pytest.fail("systemd-analyze must be installed in CI (scripts/bootstrap.sh test installs systemd)")
        pytest.skip("systemd-analyze is not installed here")
    unit = (DEPLOY / "systemd" / "tickerhub.service").read_text()
    assert "LimitNOFILE=65536" in unit and "DynamicUser=yes" in unit and "Restart=on-failure" in unit
    # verify wants the ExecStart binary to exist: point it at the one we built.
    (tmp_path / "tickerhub.service").write_text(unit.replace("/usr/local/bin/tickerhub", str(BIN_DIR / "tickerhub")))
    result = subprocess.run([analyze, "verify", str(tmp_path / "tickerhub.service")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "tickerhub.service" not in result.stderr, result.stderr   # no warning about our unit


def test_the_example_config_file_is_what_the_hub_reads(start_hub):
    result = subprocess.run([str(BIN_DIR / "tickerhub"), "--config", str(DEPLOY / "tickerhub.yaml"), "--print-config"],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr
    printed = yaml.safe_load(result.stdout)
    written = yaml.safe_load((DEPLOY / "tickerhub.yaml").read_text())
    for key, value in written.items():
        assert printed[key] == value or str(printed[key]) == str(value), (key, printed[key], value)
    origins = dict(re.findall(r"^([a-z-]+):.*#\s*(\w+)$", result.stdout, re.M))
    assert all(origins[key] == "file" for key in written)
    # And a hub starts from it (on free ports, and loopback only, as tests must).
    hub = start_hub("--config", str(DEPLOY / "tickerhub.yaml"), "--host", "127.0.0.1", "--admin-port", "0")
    assert hub.get("/healthz")[0] == 200
    assert "history=1000" in hub.log_text()
