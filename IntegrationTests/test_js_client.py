"""The JavaScript client (clients/js) in Node, with Debian's `ws`: runs its `node --test` suite,
which starts real hubs from TICKERHUB_BIN_DIR (a restart, recovery, gaps against the hub's counters,
a fatal close; books with every checksum verified and a resync, bars with backfill, channels and
patterns), and compiles its TypeScript declarations. In Chromium the same file is what the watchlist and operator pages run
(test_browser.py)."""
import os
import shutil
import subprocess

import pytest

from conftest import BIN_DIR, ROOT

NODE_PATH = "/usr/share/nodejs"


@pytest.mark.timeout(120)
def test_the_javascript_client_passes_its_node_suite():
    node = shutil.which("node")
    assert node, "node is missing: scripts/bootstrap.sh test installs nodejs and node-ws"
    env = dict(os.environ, TICKERHUB_BIN_DIR=str(BIN_DIR),
               NODE_PATH=os.pathsep.join(p for p in (os.environ.get("NODE_PATH"), NODE_PATH) if p))
    result = subprocess.run([node, "--test", "--test-reporter=spec", str(ROOT / "clients" / "js" / "test")],
                            env=env, capture_output=True, text=True, timeout=110)
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    assert "fail 0" in result.stdout.replace("\u2139 ", "") or "# fail 0" in result.stdout


def test_the_served_client_is_the_file_in_clients_js(hub):
    for name in ("tickerhub-client.js", "tickerhub-books.js"):
        status, body = hub.get(f"/assets/{name}")
        assert status == 200
        assert body == (ROOT / "clients" / "js" / name).read_text()


@pytest.mark.timeout(120)
def test_the_type_declarations_compile_against_a_program_that_uses_them():
    """`tsc --strict` on clients/js/test/types-check.ts, which uses every part of the API (and
    expects errors where the API refuses): declarations that drift from the client fail here."""
    tsc = shutil.which("tsc")
    assert tsc, "tsc is missing: scripts/bootstrap.sh test installs node-typescript"
    result = subprocess.run([tsc, "--noEmit", "--strict", "--target", "es2020", "--module", "es2020",
                             "--moduleResolution", "node", "test/types-check.ts"],
                            cwd=ROOT / "clients" / "js", capture_output=True, text=True, timeout=110)
    assert result.returncode == 0, result.stdout + result.stderr
