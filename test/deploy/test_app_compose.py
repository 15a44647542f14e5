"""deploy/local/app/docker-compose.yml against the Dockerfile's `local` stage: the job, running as the image's
non-root user, can write the checkpoint it is given. Read from the files: there is no Docker daemon here."""

import re
from pathlib import Path, PurePosixPath

import yaml

REPO = Path(__file__).resolve().parents[2]
COMPOSE = REPO / "deploy" / "local" / "app" / "docker-compose.yml"


def local_stage() -> str:
    dockerfile = (REPO / "Dockerfile").read_text()
    return re.search(r"^FROM \S+ AS local\n(.*?)(?=^FROM )", dockerfile, re.M | re.S).group(1)


def app_owned_dirs(stage: str) -> set[PurePosixPath]:
    """The directories the stage creates and hands to its user, e.g. `mkdir -p /data/checkpoints && chown app:app
    /data/checkpoints`."""
    owned = set()
    for paths in re.findall(r"chown (?:-R )?app:app ((?:/\S+ ?)+)", stage):
        owned |= {PurePosixPath(p) for p in paths.split()}
    return owned


def mounts(service: dict) -> list[dict]:
    """The service's volumes in compose's long syntax (short `source:target[:mode]` entries converted)."""
    found = []
    for entry in service.get("volumes", []):
        if isinstance(entry, str):
            source, target, *mode = entry.split(":")
            kind = "bind" if source.startswith((".", "/", "~", "$")) else "volume"
            found.append({"type": kind, "source": source, "target": target, "read_only": mode == ["ro"]})
        else:
            found.append(entry)
    return found


def test_the_checkpoint_is_on_a_named_volume_the_image_user_owns():
    compose = yaml.safe_load(COMPOSE.read_text())
    app = compose["services"]["app"]
    stage = local_stage()
    assert re.search(r"--uid 10001 .*\bapp\b", stage) and re.search(r"^USER app$", stage, re.M)
    assert app.get("user") in (None, "app", "10001", "10001:10001")
    owned = app_owned_dirs(stage)
    env_default = re.search(r"CHECKPOINT_LOCATION=(\S+)", stage).group(1)
    checkpoint = PurePosixPath(app.get("environment", {}).get("CHECKPOINT_LOCATION", env_default))
    holding = [
        m
        for m in mounts(app)
        if checkpoint == PurePosixPath(m["target"]) or PurePosixPath(m["target"]) in checkpoint.parents
    ]
    assert len(holding) == 1, f"{checkpoint} is on no volume (lost with the container) or on several"
    mount = holding[0]
    # A new named volume takes the owner and mode of the image directory it is mounted on (Docker copies them
    # on first use, unless nocopy); a bind mount keeps the host directory's owner, and a mount point that is not
    # in the image is created by Docker as root.
    assert mount["type"] == "volume" and mount["source"] in (compose.get("volumes") or {}), mount
    assert not mount.get("read_only") and not mount.get("volume", {}).get("nocopy"), mount
    assert PurePosixPath(mount["target"]) in owned, f"{mount['target']} is not created and chowned to app in {owned}"


def test_the_local_broker_is_published_on_this_machine_only():
    """PLAINTEXT and unauthenticated: every published port binds the loopback address, never all interfaces."""
    compose = yaml.safe_load((REPO / "deploy" / "local" / "kafka" / "docker-compose.yml").read_text())
    ports = [str(p) for service in compose["services"].values() for p in service.get("ports", [])]
    assert ports and all(p.startswith("127.0.0.1:") for p in ports), ports
