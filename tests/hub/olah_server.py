"""A real Hub-API server on a loopback port for the tests: ``olah`` (through ``olah_hub.py``) serving
local folders as git repos, so ``from_pretrained("org/name")`` downloads them over HTTP."""

import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from contextlib import contextmanager
from pathlib import Path

OLAH_LAUNCHER = Path(__file__).with_name("olah_hub.py")


def _git(cwd, *args):
    subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false", *args],
                   cwd=cwd, check=True, capture_output=True)


def _free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serve_repos(repos: dict[str, Path], root: Path):
    """Serve each folder of ``repos`` (repo id → folder; checkpoints/ and logs/ left out, as a
    publish leaves them) at ``http://127.0.0.1:PORT``; yields that endpoint for ``HF_ENDPOINT``."""
    for repo_id, folder in repos.items():
        repo = root / "mirrors" / "models" / repo_id
        shutil.copytree(folder, repo, ignore=shutil.ignore_patterns("checkpoints", "logs"))
        _git(repo, "init", "-q", "-b", "main")
        _git(repo, "add", "-A")
        _git(repo, "commit", "-qm", "hf_nda model")
    port = _free_port()
    config = root / "olah.toml"
    config.write_text(f'[basic]\nhost = "127.0.0.1"\nport = {port}\nrepos-path = "{root / "cache"}"\n'
                      f'mirrors-path = ["{root / "mirrors"}"]\nmirror-scheme = "http"\n'
                      f'mirror-netloc = "127.0.0.1:{port}"\nmirror-lfs-netloc = "127.0.0.1:{port}"\n\n'
                      '[accessibility]\noffline = true\n')
    log = open(root / "olah.out", "wb")
    proc = subprocess.Popen([sys.executable, str(OLAH_LAUNCHER), "-c", str(config), "--log-path", str(root / "logs")],
                            cwd=root, stdout=log, stderr=subprocess.STDOUT)
    ready = f"http://127.0.0.1:{port}/api/models/{next(iter(repos))}/revision/main"
    deadline = time.monotonic() + 60
    try:
        while True:
            assert proc.poll() is None, (root / "olah.out").read_text()
            try:
                with urllib.request.urlopen(ready, timeout=2) as response:
                    if response.status == 200:
                        break
            except (urllib.error.URLError, OSError):
                pass
            assert time.monotonic() < deadline, "olah did not start"
            time.sleep(0.1)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        proc.wait(timeout=10)
        log.close()
