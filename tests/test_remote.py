"""DVC remotes as docs/remotes.md sets them up: push, lose the cache and outputs, pull, same bytes.

The SSH remote is a real OpenSSH server on 127.0.0.1 with its own config, host key and user key
in a temporary folder (Debian's openssh-server; .ci/run installs it).
"""

import getpass
import hashlib
import os
import shutil
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

import pytest

from .conftest import FIRST_SOURCE, Project, doc_blocks, free_ports, unavailable

SSHD = Path("/usr/sbin/sshd")
DOC = "docs/remotes.md"
SECTION = "Sharing data and models (DVC remotes)"
# Everything DVC caches (metrics are `cache: false`, they travel in git).
CACHED_OUTPUTS = (
    f"data/raw/{FIRST_SOURCE}",
    f"data/validate/{FIRST_SOURCE}.csv",
    "data/split/manifest.csv",
    "data/shards",
    "models/model.keras",
    "models/model.json",
    "models/model.tflite",
)


def _documented_add_remote(scheme: str) -> str:
    """The documented add-remote line for one kind of remote."""
    adds = doc_blocks(DOC, SECTION)[0]
    matching = [c for c in adds if c.split()[2].startswith(scheme)]
    assert len(matching) == 1, (scheme, adds)
    return matching[0]


def _outputs_digest(root: Path) -> dict[str, str]:
    digest = {}
    for name in CACHED_OUTPUTS:
        path = root / name
        files = sorted(p for p in path.rglob("*") if p.is_file()) if path.is_dir() else [path]
        for file in files:
            digest[file.relative_to(root).as_posix()] = hashlib.sha256(
                file.read_bytes()
            ).hexdigest()
    return digest


def _round_trip(project: Project) -> None:
    """As documented: push; lose the cache and every output; pull; every byte must come back."""
    _, push, pull = doc_blocks(DOC, SECTION)
    before = _outputs_digest(project.root)
    assert len(before) > 40
    for command in push:
        project.shell(command)
    shutil.rmtree(project.root / ".dvc" / "cache")
    for name in CACHED_OUTPUTS:
        path = project.root / name
        shutil.rmtree(path) if path.is_dir() else path.unlink()
    for command in pull:
        out = project.shell(command)
    assert "Data and pipelines are up to date." in out
    assert _outputs_digest(project.root) == before


def _assert_no_secrets_committed(project: Project, *secrets: str) -> None:
    committed = (project.root / ".dvc" / "config").read_text()
    for secret in secrets:
        assert secret not in committed
    local = (project.root / ".dvc" / "config.local").read_text()
    assert all(secret in local for secret in secrets)
    assert project.run("git", "status", "--porcelain", "--ignored", ".dvc/config.local")[:2] == "!!"


@dataclass(frozen=True)
class SSHServer:
    port: int
    user: str
    home: Path
    store: Path


def _wait_for_banner(port: int, server: subprocess.Popen) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        assert server.poll() is None, server.stderr.read().decode()
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as sock:
                if sock.recv(4).startswith(b"SSH-"):
                    return
        except OSError:
            time.sleep(0.2)
    raise AssertionError(f"sshd did not answer on port {port}")


@pytest.fixture(scope="module")
def ssh_server(tmp_path_factory):
    """sshd -D -e on an unused 127.0.0.1 port; a HOME whose ~/.ssh knows its key and ours."""
    if not SSHD.is_file():
        unavailable(f"{SSHD} not found: apt-get install openssh-server (.ci/run does)")
    root = tmp_path_factory.mktemp("sshd")
    home = root / "home"
    (home / ".ssh").mkdir(parents=True)
    user_key = home / ".ssh" / "id_ed25519"
    for key in (root / "host_key", user_key):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f", key], check=True)
    shutil.copy(user_key.with_suffix(".pub"), root / "authorized_keys")
    (port,), user = free_ports(1), getpass.getuser()
    host_key = (root / "host_key.pub").read_text().split()[:2]
    (home / ".ssh" / "known_hosts").write_text(f"[127.0.0.1]:{port} {' '.join(host_key)}\n")
    config = root / "sshd_config"
    config.write_text(
        f"Port {port}\nListenAddress 127.0.0.1\nHostKey {root}/host_key\n"
        f"PidFile {root}/sshd.pid\nAuthorizedKeysFile {root}/authorized_keys\n"
        "StrictModes no\nPubkeyAuthentication yes\nPasswordAuthentication no\n"
        "KbdInteractiveAuthentication no\nUsePAM no\nPermitRootLogin prohibit-password\n"
        f"AllowUsers {user}\nSubsystem sftp internal-sftp\n"
    )
    if os.geteuid() == 0:  # sshd's privilege-separation folder; systemd makes it on a real host
        Path("/run/sshd").mkdir(mode=0o755, exist_ok=True)
    server = subprocess.Popen([SSHD, "-D", "-e", "-f", config], stderr=subprocess.PIPE)
    try:
        _wait_for_banner(port, server)
        yield SSHServer(port=port, user=user, home=home, store=root / "store")
    finally:
        server.terminate()
        server.wait(timeout=30)


@pytest.mark.slow
def test_ssh_remote_round_trip_is_byte_identical(reproduced_project, ssh_server, tmp_path):
    project = Project(tmp_path / "project", template=reproduced_project)
    project.env["HOME"] = str(ssh_server.home)
    add = _documented_add_remote("ssh://")
    add = add.replace("dvc@build.example.com", f"{ssh_server.user}@127.0.0.1")
    add = add.replace("/srv/genderface-dvc", str(ssh_server.store))
    project.shell(add.replace("port=2222", f"port={ssh_server.port}"))
    _assert_no_secrets_committed(project, f"port = {ssh_server.port}", "keyfile = ")
    _round_trip(project)
    stored = [p for p in (ssh_server.store / "files" / "md5").rglob("*") if p.is_file()]
    assert len(stored) > 40


@pytest.mark.slow
def test_local_folder_remote_round_trip_is_byte_identical(reproduced_project, tmp_path):
    project = Project(tmp_path / "project", template=reproduced_project)
    store = tmp_path / "team" / "genderface-dvc"
    project.shell(_documented_add_remote("/").replace("/mnt/team/genderface-dvc", str(store)))
    assert str(store) in (project.root / ".dvc" / "config").read_text()
    _round_trip(project)
    assert len([p for p in (store / "files" / "md5").rglob("*") if p.is_file()]) > 40


@pytest.mark.slow
def test_cloud_remotes_keep_credentials_out_of_git(reproduced_project, tmp_path):
    """s3:// is installed (dvc-s3) and configured offline; gs:// and azure:// name their plugin."""
    project = Project(tmp_path / "project", template=reproduced_project)
    project.shell(_documented_add_remote("s3://"))
    project.shell("scripts/add-remote.sh storage s3://my-bucket/genderface profile=ci")
    _assert_no_secrets_committed(project, "profile = ci")
    assert "url = s3://my-bucket/genderface" in (project.root / ".dvc/config").read_text()
    assert project.run("dvc", "remote", "default").strip() == "storage"
    for scheme, package in (("gs://", "dvc-gs==3.1.0"), ("azure://", "dvc-azure==3.1.1")):
        result = subprocess.run(
            ["bash", "-c", _documented_add_remote(scheme)],
            cwd=project.root,
            env=project.env,
            capture_output=True,
            text=True,
        )
        assert result.returncode == 1
        assert result.stderr == (
            f"error: {scheme} remotes need the {package.split('==')[0]} plugin: "
            f"pip install {package}\n"
        )
    assert "url = s3://my-bucket/genderface" in (project.root / ".dvc/config").read_text()


@pytest.mark.slow
def test_local_flag_keeps_a_personal_remote_out_of_git(reproduced_project, tmp_path):
    project = Project(tmp_path / "project", template=reproduced_project)
    project.shell(f"scripts/add-remote.sh --local mine {tmp_path / 'mine'}")
    _assert_no_secrets_committed(project, str(tmp_path / "mine"))
    assert project.run("dvc", "remote", "default").strip() == "mine"
    assert project.run("git", "status", "--porcelain") == ""


def test_documented_remote_section_is_what_these_tests_run():
    adds, push, pull = doc_blocks(DOC, SECTION)
    assert [c.split()[2].split("://")[0] for c in adds] == [
        "/mnt/team/genderface-dvc",
        "ssh",
        "s3",
        "gs",
        "azure",
    ]
    assert (push, pull) == (["dvc push"], ["dvc pull", "dvc status"])
