"""A busybox OCI image built locally, byte for byte reproducible.

    python3 tests/containerd/oci_image.py OUT.tar [NAME]

writes an OCI image archive (an image layout in a tar: `oci-layout`,
`index.json`, `blobs/sha256/...`) with one uncompressed layer made from the
host's busybox-static: /bin/busybox, one symlink per applet, /etc/passwd and
/etc/group, and the usual empty directories.  `ctr image import` and
`podman load` both read it.  No registry is involved: the tests cannot pull.

The index's manifest carries the image name twice, as containerd and podman
each read a different annotation: `io.containerd.image.name` (ctr import)
and `org.opencontainers.image.ref.name` (podman load, skopeo)."""

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

BUSYBOX = "/bin/busybox"
DEFAULT_NAME = "localhost/hull-test/busybox:latest"
MTIME = 1700000000  # fixed, so the digests do not change between runs
DIRS = ("bin", "sbin", "usr", "usr/bin", "usr/sbin", "etc", "proc", "sys", "dev",
        "tmp", "root", "run", "var", "var/tmp", "home", "mnt")


def _info(name, kind, mode, size=0, linkname=""):
    ti = tarfile.TarInfo(name)
    ti.type = kind
    ti.mode = mode
    ti.size = size
    ti.linkname = linkname
    ti.mtime = MTIME
    ti.uid = ti.gid = 0
    ti.uname = ti.gname = "root"
    return ti


def _applets(busybox):
    out = subprocess.run([busybox, "--list"], capture_output=True, text=True, check=True)
    return sorted(a for a in out.stdout.split() if a and "/" not in a and a != "busybox")


def layer_tar(busybox=BUSYBOX):
    """The layer as bytes (an uncompressed tar)."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in DIRS:
            mode = 0o1777 if d in ("tmp", "var/tmp") else 0o755
            tar.addfile(_info(d, tarfile.DIRTYPE, mode))
        with open(busybox, "rb") as f:
            data = f.read()
        tar.addfile(_info("bin/busybox", tarfile.REGTYPE, 0o755, len(data)), io.BytesIO(data))
        for a in _applets(busybox):
            tar.addfile(_info("bin/" + a, tarfile.SYMTYPE, 0o777, linkname="busybox"))
        files = {
            "etc/passwd": "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
            "etc/group": "root:x:0:\nnogroup:x:65534:\n",
            "etc/hostname": "busybox\n",
        }
        for name, text in files.items():
            b = text.encode()
            tar.addfile(_info(name, tarfile.REGTYPE, 0o644, len(b)), io.BytesIO(b))
    return buf.getvalue()


def _blob(blobs, data, media_type):
    digest = "sha256:" + hashlib.sha256(data).hexdigest()
    blobs[digest] = data
    return {"mediaType": media_type, "digest": digest, "size": len(data)}


def _canon(obj):
    return json.dumps(obj, sort_keys=True, separators=(",", ":")).encode()


def build_layout(name=DEFAULT_NAME, busybox=BUSYBOX, cmd=("sh",)):
    """Returns {path in the archive: bytes}."""
    blobs = {}
    layer = layer_tar(busybox)
    layer_desc = _blob(blobs, layer, "application/vnd.oci.image.layer.v1.tar")
    config = {
        "created": "2023-11-14T22:13:20Z",
        "architecture": "amd64",
        "os": "linux",
        "config": {
            "Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"],
            "Cmd": list(cmd),
            "WorkingDir": "/",
        },
        "rootfs": {"type": "layers", "diff_ids": [layer_desc["digest"]]},
        "history": [{"created": "2023-11-14T22:13:20Z",
                     "created_by": "hull tests/containerd/oci_image.py (busybox-static)"}],
    }
    config_desc = _blob(blobs, _canon(config), "application/vnd.oci.image.config.v1+json")
    manifest = {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": config_desc,
        "layers": [layer_desc],
    }
    manifest_desc = _blob(blobs, _canon(manifest), "application/vnd.oci.image.manifest.v1+json")
    manifest_desc["annotations"] = {
        "io.containerd.image.name": name,
        "org.opencontainers.image.ref.name": name,
    }
    manifest_desc["platform"] = {"architecture": "amd64", "os": "linux"}
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [manifest_desc]}
    files = {"oci-layout": _canon({"imageLayoutVersion": "1.0.0"}), "index.json": _canon(index)}
    for digest, data in blobs.items():
        files["blobs/sha256/" + digest.split(":", 1)[1]] = data
    return files


def write_archive(path, name=DEFAULT_NAME, busybox=BUSYBOX, cmd=("sh",)):
    """Writes the OCI archive to PATH; returns the manifest's digest."""
    files = build_layout(name, busybox, cmd)
    tmp = path + ".tmp"
    with tarfile.open(tmp, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for d in ("blobs", "blobs/sha256"):
            tar.addfile(_info(d, tarfile.DIRTYPE, 0o755))
        for p in sorted(files):
            tar.addfile(_info(p, tarfile.REGTYPE, 0o644, len(files[p])), io.BytesIO(files[p]))
    os.rename(tmp, path)
    index = json.loads(files["index.json"])
    return index["manifests"][0]["digest"]


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit("usage: %s OUT.tar [NAME]" % sys.argv[0])
    print(write_archive(sys.argv[1], *sys.argv[2:3]))
