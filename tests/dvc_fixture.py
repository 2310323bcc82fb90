"""A committed copy of the project with a tiny corpus, for the DVC tests (runs the real stages).

The copy is a ``git clone`` of the committed HEAD (never the shared working tree) whose params
shrink the demo to 2 speakers x 2 short utterances; its preprocessing (synth, slice, fit_3dmm,
audio_features), a few-epoch A2EP and one clip's blend are reproduced and committed with their
own ``dvc.lock`` (the committed one, of the full demo, is removed first).
"""

from __future__ import annotations

import contextlib
import getpass
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent

TINY = {
    "synth": {
        "n_speakers": 2,
        "utterances_per_speaker": 2,
        "words_per_utterance": [2, 3],
        "size": 256,
        "speech_utterances": 2,
    },
    "slice": {"size": 128},
    "fit_3dmm": {"landmark_steps": 20, "photo_steps": 0},
    "a2ep": {"epochs": 3, "window": 24, "predict_window": 24, "predict_overlap": 6},
}
PREPROCESSING = ("synth", "slice", "fit_3dmm", "audio_features")


def env_for(repo: Path) -> dict[str, str]:
    """Environment of a command run in ``repo``: the venv's tools, the repo's code, no network."""
    env = dict(os.environ)
    env.update(
        PATH=f"{BIN}{os.pathsep}{env.get('PATH', '')}",
        PYTHONPATH=str(repo),  # the copy's code, not the editable install's
        DVC_NO_ANALYTICS="1",
        HF_HUB_OFFLINE="1",
        TRANSFORMERS_OFFLINE="1",
        GIT_AUTHOR_NAME="test",
        GIT_AUTHOR_EMAIL="test@example.com",
        GIT_COMMITTER_NAME="test",
        GIT_COMMITTER_EMAIL="test@example.com",
    )
    return env


def sh(repo: Path, *args: str, check: bool = True, timeout: float = 600) -> subprocess.CompletedProcess:
    """Run a command in ``repo`` (``dvc`` resolves to the venv's); stdout and stderr together."""
    cmd = [str(BIN / "dvc"), *args[1:]] if args[0] == "dvc" else list(args)
    result = subprocess.run(
        cmd,
        cwd=repo,
        env=env_for(repo),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=timeout,
    )
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout[-4000:]}")
    return result


def set_params(repo: Path, changes: dict[str, dict[str, object]]) -> None:
    """Update sections of ``repo``'s params.yaml."""
    path = repo / "params.yaml"
    params = yaml.safe_load(path.read_text())
    for section, values in changes.items():
        params[section] |= values
    path.write_text(yaml.safe_dump(params, sort_keys=False))


def commit(repo: Path, message: str) -> None:
    sh(repo, "git", "add", "-A")
    sh(repo, "git", "commit", "-q", "-m", message)


def ran_stages(output: str) -> set[str]:
    """Names of the stages a ``dvc repro``/``exp run`` output says it ran."""
    return {line.split("'")[1] for line in output.splitlines() if line.startswith("Running stage '")}


def build_tiny_project(repo: Path) -> Path:
    """Clone the committed project into ``repo``, shrink it and reproduce its preprocessing and A2EP."""
    subprocess.run(["git", "clone", "-q", str(ROOT), str(repo)], check=True, timeout=120)
    (repo / "dvc.lock").unlink()  # the committed lock describes the full demo; this corpus starts afresh
    set_params(repo, TINY)
    sh(repo, "dvc", "repro", "synth")
    sh(repo, "gsmoothface", "manifest", "data/raw/demo", "--out", "data/manifests/demo.yaml")
    sh(repo, "dvc", "repro", "train_a2ep", "blend@spk00_u00")
    commit(repo, "tiny corpus")
    return repo


SSHD = Path("/usr/sbin/sshd")


@contextlib.contextmanager
def running_sshd(workdir: Path, timeout: float = 20.0) -> Iterator[tuple[int, str, Path]]:
    """A real OpenSSH server on 127.0.0.1 with its own config, host key and client key (SFTP inside).

    Yields ``(port, user, client_keyfile)``; the server is stopped when the block ends.
    """
    workdir.mkdir(parents=True, exist_ok=True)
    Path("/run/sshd").mkdir(parents=True, exist_ok=True)  # sshd's privilege separation folder
    host_key, client_key = workdir / "host_ed25519", workdir / "client_ed25519"
    for key in (host_key, client_key):
        subprocess.run(
            ["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", str(key)], check=True, timeout=30
        )
    (workdir / "authorized_keys").write_text(client_key.with_suffix(".pub").read_text())
    with socket.socket() as probe:  # a free port
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = workdir / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {host_key}\n"
        f"AuthorizedKeysFile {workdir / 'authorized_keys'}\nPidFile {workdir / 'sshd.pid'}\n"
        "Subsystem sftp internal-sftp\nStrictModes no\nUsePAM no\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nPermitRootLogin prohibit-password\n"
    )
    log = workdir / "sshd.log"
    server = subprocess.Popen([str(SSHD), "-D", "-f", str(config), "-E", str(log)])
    try:
        deadline = time.monotonic() + timeout
        while True:
            with socket.socket() as conn:
                if conn.connect_ex(("127.0.0.1", port)) == 0:
                    break
            if server.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"sshd did not start: {log.read_text() if log.exists() else ''}")
            time.sleep(0.1)
        yield port, getpass.getuser(), client_key
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait()
