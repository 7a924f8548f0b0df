"""Images through the real CLI: `hull image import|list|inspect|rm|prune|
bundle|unbundle` and `hull run --image`, on images made by umoci, by skopeo
(oci:, oci-archive:, docker-archive: transports, all local) and by these
tests, each compared file by file with what `umoci unpack` makes of the same
image; then the hostile-image suite: every refusal must leave the store as
it was.  The store is a private HULL_IMAGE_ROOT per test."""

import gzip
import hashlib
import io
import json
import os
import pty
import select
import shutil
import subprocess
import tarfile
import time

import pytest

import helpers
from test_image_compare import compare

pytestmark = pytest.mark.hull_only


def _need(tool):
    if shutil.which(tool) is None:
        pytest.fail("%s is missing: run tests/install-deps.sh --test" % tool, pytrace=False)


class Images:
    """Runs `hull image ...` against a private store."""

    def __init__(self, rt, root):
        self.rt = rt
        self.root = root
        self.env = dict(os.environ, HULL_IMAGE_ROOT=root)

    def __call__(self, *args, env=None, **kw):
        return self.rt(*args, env=env or self.env, **kw)

    def ok(self, *args, **kw):
        r = self(*args, **kw)
        assert r.rc == 0, r.describe()
        return r

    def listing(self, sub):
        d = os.path.join(self.root, sub)
        return sorted(os.listdir(d)) if os.path.isdir(d) else []

    def assert_empty(self):
        for sub in ("layers", "images", "bundles", "tmp"):
            assert self.listing(sub) == [], "%s/%s is not empty: %s" % (self.root, sub, self.listing(sub))


@pytest.fixture
def images(rt, workdir):
    return Images(rt, os.path.join(workdir, "store"))


# ---- building images -------------------------------------------------------------

def tar_bytes(entries):
    """entries: (name, kind, **attrs); kind in file dir symlink hardlink fifo chr."""
    buf = io.BytesIO()
    with tarfile.open(fileobj=buf, mode="w", format=tarfile.PAX_FORMAT) as t:
        for e in entries:
            name, kind = e[0], e[1]
            a = e[2] if len(e) > 2 else {}
            ti = tarfile.TarInfo(name)
            ti.mtime = a.get("mtime", 1700000000)
            ti.uid, ti.gid = a.get("uid", 0), a.get("gid", 0)
            ti.mode = a.get("mode", 0o755 if kind == "dir" else 0o644)
            data = a.get("data", b"")
            if kind == "dir":
                ti.type = tarfile.DIRTYPE
            elif kind == "symlink":
                ti.type, ti.linkname = tarfile.SYMTYPE, a["target"]
            elif kind == "hardlink":
                ti.type, ti.linkname = tarfile.LNKTYPE, a["target"]
            elif kind == "fifo":
                ti.type = tarfile.FIFOTYPE
            elif kind == "chr":
                ti.type, ti.devmajor, ti.devminor = tarfile.CHRTYPE, a["major"], a["minor"]
            if "xattrs" in a:
                ti.pax_headers = {"SCHILY.xattr." + k: v for k, v in a["xattrs"].items()}
            if kind == "file":
                ti.size = len(data)
                t.addfile(ti, io.BytesIO(data))
            else:
                t.addfile(ti)
    return buf.getvalue()


def _put_blob(layout, data):
    h = hashlib.sha256(data).hexdigest()
    d = os.path.join(layout, "blobs", "sha256")
    os.makedirs(d, exist_ok=True)
    with open(os.path.join(d, h), "wb") as f:
        f.write(data)
    return {"digest": "sha256:" + h, "size": len(data)}


def make_layout(layout, layers, config=None, ref="test", compress="gzip", arch="amd64", tamper=None):
    """An OCI layout with these layer tars.  tamper(kind, dict) may edit a
    descriptor (kind: "layer" or "config") before it is written."""
    os.makedirs(layout, exist_ok=True)
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        json.dump({"imageLayoutVersion": "1.0.0"}, f)
    descs, diff_ids = [], []
    for tar in layers:
        diff_ids.append("sha256:" + hashlib.sha256(tar).hexdigest())
        if compress == "gzip":
            blob, mt = gzip.compress(tar, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip"
        elif compress == "zstd":
            blob = subprocess.run(["zstd", "-q", "-c"], input=tar, capture_output=True, check=True).stdout
            mt = "application/vnd.oci.image.layer.v1.tar+zstd"
        else:
            blob, mt = tar, "application/vnd.oci.image.layer.v1.tar"
        d = dict(_put_blob(layout, blob), mediaType=mt)
        if tamper:
            tamper("layer", d)
        descs.append(d)
    cfg = {"architecture": arch, "os": "linux", "config": config or {},
           "rootfs": {"type": "layers", "diff_ids": diff_ids}}
    cd = dict(_put_blob(layout, json.dumps(cfg).encode()), mediaType="application/vnd.oci.image.config.v1+json")
    if tamper:
        tamper("config", cd)
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": cd, "layers": descs}
    md = dict(_put_blob(layout, json.dumps(manifest).encode()),
              mediaType="application/vnd.oci.image.manifest.v1+json",
              annotations={"org.opencontainers.image.ref.name": ref})
    with open(os.path.join(layout, "index.json"), "w") as f:
        json.dump({"schemaVersion": 2, "manifests": [md]}, f)
    return layout


def busybox_layer(extra=()):
    entries = [("bin", "dir"), ("etc", "dir"), ("tmp", "dir", {"mode": 0o1777}),
               ("bin/busybox", "file", {"data": open(helpers.BUSYBOX, "rb").read(), "mode": 0o755}),
               ("bin/sh", "symlink", {"target": "busybox"}),
               ("etc/passwd", "file", {"data": b"root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/tmp:/bin/sh\n"}),
               ("etc/group", "file", {"data": b"root:x:0:\napp:x:1000:\nstaff:x:50:app\n"})]
    return tar_bytes(entries + list(extra))


def umoci_unpack(layout, ref, dest):
    _need("umoci")
    r = subprocess.run(["umoci", "unpack", "--image", "%s:%s" % (layout, ref), dest],
                       capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    return os.path.join(dest, "rootfs")


def hull_rootfs(images, name, workdir, tag="b"):
    bundle = os.path.join(workdir, "bundle-" + tag)
    images.ok("image", "bundle", name, bundle)
    return bundle


def assert_same_as_umoci(images, layout, ref, name, workdir):
    dest = os.path.join(workdir, "umoci-" + ref)
    expected = os.path.join(dest, "rootfs") if os.path.isdir(dest) else umoci_unpack(layout, ref, dest)
    bundle = hull_rootfs(images, name, workdir, ref)
    try:
        diffs = compare(os.path.join(bundle, "rootfs"), expected)
        assert diffs == [], "\n".join(diffs)
    finally:
        images.ok("image", "unbundle", bundle)
    assert not os.path.exists(bundle)


# ---- images from the tests themselves, compared with umoci ----------------------------

LAYER_TESTS = [
    ("dir", "a"), ("file", "a/x"), ("file", "a/y"),
]


def three_layers():
    l1 = busybox_layer([
        ("a", "dir"), ("a/x", "file", {"data": b"x1"}), ("a/y", "file", {"data": b"y1"}),
        ("a/sub", "dir"), ("a/sub/deep", "file", {"data": b"deep"}),
        ("f", "file", {"data": b"f"}), ("gone", "dir"), ("gone/inner", "file", {"data": b"i"}),
        ("usr", "dir"), ("usr/bin", "dir"),
        ("usr/bin/su", "file", {"data": b"suid", "mode": 0o4755}),
        ("usr/bin/wall", "file", {"data": b"sgid", "mode": 0o2755, "gid": 5}),
        ("owned", "file", {"data": b"o", "uid": 1234, "gid": 5678, "mode": 0o640}),
        ("xattr", "file", {"data": b"x", "xattrs": {"user.test": "value"}}),
        ("fifo", "fifo", {"mode": 0o600}),
        ("null", "chr", {"major": 1, "minor": 3, "mode": 0o666}),
        ("shared", "file", {"data": b"shared content"}),
        ("shared-link", "hardlink", {"target": "shared"}),
    ])
    l2 = tar_bytes([
        ("a", "dir"), ("a/.wh..wh..opq", "file"), ("a/z", "file", {"data": b"z2"}),
        (".wh.f", "file"), (".wh.gone", "file"),
        ("usr", "dir"), ("usr/bin", "dir"), ("usr/bin/new", "file", {"data": b"new", "mode": 0o700}),
        ("f2", "file", {"data": b"f2"}), ("f2-link", "hardlink", {"target": "f2"}),
        ("shared-l2", "hardlink", {"target": "shared"}),  # a hardlink across layers
    ])
    l3 = tar_bytes([
        ("a", "dir"), ("a/x", "file", {"data": b"x3 is back"}),
        ("gone", "dir", {"mode": 0o700}), ("gone/again", "file", {"data": b"again"}),
        ("usr", "dir"), ("usr/bin", "dir"), (".wh.owned", "file"),
        ("usr/bin/su", "file", {"data": b"suid v2", "mode": 0o4711}),
    ])
    return [l1, l2, l3]


@pytest.mark.parametrize("compress", ["gzip", "zstd", "none"])
def test_layers_whiteouts_opaque_hardlinks_like_umoci(images, workdir, compress):
    _need("zstd")
    layout = make_layout(os.path.join(workdir, "layout"), three_layers(), ref="three", compress=compress)
    r = images.ok("image", "import", "--name", "three", layout)
    image_id = r.out.strip()
    assert len(image_id) == 64
    assert len(images.listing("layers")) == 3
    # umoci 0.4 reads no zstd layers: the gzip image has the same tars
    if compress != "gzip":
        layout = make_layout(os.path.join(workdir, "layout-gz"), three_layers(), ref="three")
    assert_same_as_umoci(images, layout, "three", "three", workdir)
    info = json.loads(images.ok("image", "inspect", "three").out)
    assert info["id"] == image_id and info["names"] == ["three"] and len(info["diff_ids"]) == 3
    # the layer with the hardlink into a lower one is keyed by its chain id
    keys = [d[7:] for d in info["diff_ids"]]
    assert info["layer_keys"][0] == keys[0] and info["layer_keys"][2] == keys[2]
    assert info["layer_keys"][1] != keys[1]


def test_umoci_made_image(images, workdir, base_dir):
    _need("umoci")
    layout = os.path.join(workdir, "oci")
    b = os.path.join(workdir, "ub")
    subprocess.run(["umoci", "init", "--layout", layout], check=True)
    subprocess.run(["umoci", "new", "--image", layout + ":u"], check=True)
    subprocess.run(["umoci", "unpack", "--image", layout + ":u", b], check=True, capture_output=True)
    r = os.path.join(b, "rootfs")
    shutil.rmtree(r)
    shutil.copytree(os.path.join(base_dir, "rootfs-template"), r, symlinks=True)
    os.chmod(os.path.join(r, "bin", "busybox"), 0o4755)
    subprocess.run(["umoci", "repack", "--refresh-bundle", "--image", layout + ":u", b], check=True)
    os.unlink(os.path.join(r, "etc", "group"))
    shutil.rmtree(os.path.join(r, "mnt"))
    os.link(os.path.join(r, "etc", "passwd"), os.path.join(r, "root", "passwd-link"))
    with open(os.path.join(r, "root", "new"), "w") as f:
        f.write("layer two\n")
    subprocess.run(["umoci", "repack", "--refresh-bundle", "--image", layout + ":u", b], check=True)
    subprocess.run(["umoci", "config", "--image", layout + ":u", "--config.cmd", "sh",
                    "--config.user", "user", "--config.workingdir", "/tmp", "--config.env", "A=b",
                    "--config.label", "com.example.l=v"], check=True)
    images.ok("image", "import", layout)
    listed = json.loads(images.ok("image", "list", "--format", "json").out)
    assert [i["names"] for i in listed] == [["u"]]
    assert_same_as_umoci(images, layout, "u", "u", workdir)
    bundle = hull_rootfs(images, "u", workdir)
    try:
        c = json.load(open(os.path.join(bundle, "config.json")))
        assert c["process"]["args"] == ["sh"] and c["process"]["cwd"] == "/tmp"
        assert c["process"]["user"]["uid"] == 1000 and c["process"]["user"]["gid"] == 1000
        assert "A=b" in c["process"]["env"] and c["process"].get("terminal", False) is False
        assert c["annotations"]["com.example.l"] == "v"
        assert c["root"] == {"path": "rootfs"} or c["root"]["readonly"] is False
    finally:
        images.ok("image", "unbundle", bundle)


def test_skopeo_transports_share_layers(images, workdir):
    _need("skopeo")
    layout = make_layout(os.path.join(workdir, "layout"), three_layers(), ref="three")
    docker_tar = os.path.join(workdir, "docker.tar")
    oci_tar = os.path.join(workdir, "oci.tar")
    for dest in ("docker-archive:%s:example/three:v1" % docker_tar, "oci-archive:%s:three" % oci_tar):
        r = subprocess.run(["skopeo", "--insecure-policy", "copy", "oci:%s:three" % layout, dest],
                           capture_output=True, text=True)
        assert r.returncode == 0, r.stderr
    images.ok("image", "import", docker_tar)
    assert len(images.listing("layers")) == 3
    listed = json.loads(images.ok("image", "list", "--format", "json").out)
    name = listed[0]["names"][0]
    assert name.endswith("example/three:v1")  # skopeo may prefix docker.io/
    assert_same_as_umoci(images, layout, "three", name, workdir)
    # `docker save | gzip`: the outer tar compressed
    with open(docker_tar, "rb") as f, gzip.open(docker_tar + ".gz", "wb") as g:
        shutil.copyfileobj(f, g)
    images.ok("image", "import", "--name", "from-gzip", docker_tar + ".gz")
    images.ok("image", "import", "--name", "from-oci-archive", oci_tar)
    images.ok("image", "import", "--name", "from-layout", layout)
    # the same diff-ids: every layer unpacked once
    assert len(images.listing("layers")) == 3
    assert_same_as_umoci(images, layout, "three", "from-oci-archive", workdir)


def test_rm_keeps_shared_layers_and_prune(images, workdir):
    base = busybox_layer()
    top1 = tar_bytes([("one", "file", {"data": b"1"})])
    top2 = tar_bytes([("two", "file", {"data": b"2"})])
    make_layout(os.path.join(workdir, "l1"), [base, top1], ref="one")
    make_layout(os.path.join(workdir, "l2"), [base, top2], ref="two")
    images.ok("image", "import", os.path.join(workdir, "l1"))
    images.ok("image", "import", os.path.join(workdir, "l2"))
    assert len(images.listing("layers")) == 3
    images.ok("image", "rm", "one")
    assert len(images.listing("layers")) == 2
    assert images("image", "inspect", "one").rc != 0
    # a bundle keeps its layers after its image goes
    bundle = hull_rootfs(images, "two", workdir)
    images.ok("image", "rm", "two")
    assert len(images.listing("layers")) == 2 and images.listing("images") == []
    assert open(os.path.join(bundle, "rootfs", "two")).read() == "2"
    images.ok("image", "unbundle", bundle)
    images.assert_empty()
    # leftovers of an interrupted import are removed by prune
    os.makedirs(os.path.join(images.root, "tmp", "imp-dead", "L0", "etc"))
    r = images.ok("image", "prune")
    assert "1 interrupted import" in r.out
    images.assert_empty()


def test_run_image_and_delete_cleans_up(rt, images, workdir, cid):
    layout = make_layout(os.path.join(workdir, "layout"), [busybox_layer()], ref="bb",
                         config={"Cmd": ["sh", "-c", "id -u; id -G; echo $GREETING; pwd; echo x > /tmp/w"],
                                 "User": "app", "Env": ["GREETING=hello"], "WorkingDir": "/etc"})
    images.ok("image", "import", layout)
    r = images.ok("run", "--image", "bb", cid)
    assert r.out.split() == ["1000", "1000", "50", "hello", "/etc"]
    assert images.listing("bundles") == []
    assert helpers.mount_points_under(images.root) == []
    # detached: the mount lives until delete
    cid2 = cid + "-d"
    images.ok("run", "-d", "--image", "bb", cid2)
    rt.wait_status(cid2, "stopped")
    assert len(images.listing("bundles")) == 1
    assert len(helpers.mount_points_under(images.root)) == 1
    images.ok("delete", cid2)
    assert images.listing("bundles") == [] and helpers.mount_points_under(images.root) == []
    r = images("run", "--image", "nonexistent", cid + "-x")
    assert r.rc != 0 and "no such image" in r.err
    assert images.listing("bundles") == []


# ---- hostile images: refused, and the store stays empty ------------------------------

def refused(images, layout, *expect, env=None):
    kw = {}
    if env:
        kw["env"] = dict(images.env, **env)
    r = images("image", "import", layout, **kw)
    assert r.rc != 0, r.describe()
    for e in expect:
        assert e in r.err, r.describe()
    images.assert_empty()
    return r


ESCAPES = {
    "dotdot": [("../escape", "file", {"data": b"x"})],
    "absolute": [("/tmp/hull-image-escape", "file", {"data": b"x"})],
    "symlink-then-write": [("a", "symlink", {"target": "/tmp"}), ("a/hull-image-escape", "file")],
    "symlink-relative": [("a", "symlink", {"target": "../../../../../../tmp"}), ("a/hull-image-escape", "file")],
    "hardlink-out": [("h", "hardlink", {"target": "../../../../etc/passwd"})],
    "hardlink-abs": [("h", "hardlink", {"target": "/etc/passwd"})],
    "hardlink-via-symlink": [("a", "symlink", {"target": "/etc"}), ("h", "hardlink", {"target": "a/passwd"})],
    "whiteout-out": [("../.wh.passwd", "file")],
    "whiteout-via-symlink": [("a", "symlink", {"target": "/etc"}), ("a/.wh.passwd", "file")],
    "overlay-xattr": [("d", "dir", {"xattrs": {"trusted.overlay.opaque": "y"}})],
}


@pytest.mark.parametrize("name", sorted(ESCAPES))
def test_escapes_refused(images, workdir, name):
    layout = make_layout(os.path.join(workdir, "evil"), [busybox_layer(), tar_bytes(ESCAPES[name])], ref="evil")
    refused(images, layout, "refused")
    assert not os.path.exists("/tmp/hull-image-escape")


def test_wrong_layer_digest(images, workdir):
    layout = make_layout(os.path.join(workdir, "l"), [busybox_layer()], ref="x")
    blob = json.load(open(os.path.join(layout, "index.json")))["manifests"][0]["digest"][7:]
    manifest = json.load(open(os.path.join(layout, "blobs", "sha256", blob)))
    layer = os.path.join(layout, "blobs", "sha256", manifest["layers"][0]["digest"][7:])
    data = bytearray(open(layer, "rb").read())
    with open(layer, "wb") as f:  # same size, one byte changed at the end (gzip trailer)
        f.write(bytes(data[:-1]) + bytes([data[-1] ^ 1]))
    refused(images, layout)


def test_wrong_sizes_and_diff_ids(images, workdir):
    def bad_size(kind, d):
        if kind == "layer":
            d["size"] += 1
    refused(images, make_layout(os.path.join(workdir, "a"), [busybox_layer()], tamper=bad_size), "size mismatch")

    def bad_config_digest(kind, d):
        if kind == "config":
            d["digest"] = "sha256:" + "0" * 64
    refused(images, make_layout(os.path.join(workdir, "b"), [busybox_layer()], tamper=bad_config_digest))

    # the config's diff-id does not match the layer
    layout = make_layout(os.path.join(workdir, "c"), [busybox_layer()], ref="c")
    other = make_layout(os.path.join(workdir, "d"), [tar_bytes([("x", "file")])], ref="d")
    idx = json.load(open(os.path.join(other, "index.json")))
    m = json.load(open(os.path.join(other, "blobs", "sha256", idx["manifests"][0]["digest"][7:])))
    good = json.load(open(os.path.join(layout, "index.json")))
    gm = json.load(open(os.path.join(layout, "blobs", "sha256", good["manifests"][0]["digest"][7:])))
    m["layers"] = gm["layers"]
    shutil.copy(os.path.join(layout, "blobs", "sha256", gm["layers"][0]["digest"][7:]),
                os.path.join(other, "blobs", "sha256"))
    md = _put_blob(other, json.dumps(m).encode())
    idx["manifests"][0].update(md)
    json.dump(idx, open(os.path.join(other, "index.json"), "w"))
    refused(images, other, "diff-id mismatch")


def test_wrong_platform_refused(images, workdir):
    refused(images, make_layout(os.path.join(workdir, "l"), [busybox_layer()], arch="arm64"), "linux/arm64")


def test_tar_bombs(images, workdir):
    many = tar_bytes([("f%d" % i, "file") for i in range(300)])
    refused(images, make_layout(os.path.join(workdir, "a"), [many]), "more than 200 entries",
            env={"HULL_IMAGE_MAX_ENTRIES": "200"})
    # a sparse file with a huge apparent size: refused before a byte is written
    ti = tarfile.TarInfo("sparse")
    ti.size = 1 << 40
    header = ti.tobuf(format=tarfile.GNU_FORMAT)
    refused(images, make_layout(os.path.join(workdir, "b"), [header + b"\0" * 1024], compress="none"),
            "tar bomb")


def test_truncated_and_corrupt_layers(images, workdir):
    tar = busybox_layer()
    refused(images, make_layout(os.path.join(workdir, "a"), [tar[:len(tar) // 2]], compress="gzip"))
    good = gzip.compress(tar, mtime=0)
    layout = make_layout(os.path.join(workdir, "b"), [tar])
    # swap the blob for a corrupted one with a matching digest and size: the
    # gzip stream itself is broken
    bad = bytearray(good)
    for i in range(len(bad) // 2, len(bad) // 2 + 64):
        bad[i] ^= 0xFF
    l2 = os.path.join(workdir, "c")
    os.makedirs(os.path.join(l2, "blobs", "sha256"))
    make_layout(l2, [tar])
    idx = json.load(open(os.path.join(l2, "index.json")))
    m = json.load(open(os.path.join(l2, "blobs", "sha256", idx["manifests"][0]["digest"][7:])))
    m["layers"][0].update(_put_blob(l2, bytes(bad)))
    idx["manifests"][0].update(_put_blob(l2, json.dumps(m).encode()))
    json.dump(idx, open(os.path.join(l2, "index.json"), "w"))
    refused(images, l2)
    assert os.path.isdir(layout)
    junk = os.path.join(workdir, "junk.tar")
    with open(junk, "wb") as f:
        f.write(b"not a tar at all" * 100)
    refused(images, junk)


def test_index_picks_linux_amd64_and_ref(images, workdir):
    amd = make_layout(os.path.join(workdir, "amd"), [tar_bytes([("which", "file", {"data": b"amd64"})])])
    arm = make_layout(os.path.join(workdir, "arm"), [tar_bytes([("which", "file", {"data": b"arm64"})])],
                      arch="arm64")
    other = make_layout(os.path.join(workdir, "other"), [tar_bytes([("which", "file", {"data": b"other"})])])
    # one layout holding a nested multi-platform index and a second image
    multi = os.path.join(workdir, "multi")
    shutil.copytree(amd, multi)
    for src in (arm, other):
        for b in os.listdir(os.path.join(src, "blobs", "sha256")):
            shutil.copy(os.path.join(src, "blobs", "sha256", b), os.path.join(multi, "blobs", "sha256"))
    man = lambda l: json.load(open(os.path.join(l, "index.json")))["manifests"][0]
    sub = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": [
        dict(man(arm), platform={"os": "linux", "architecture": "arm64"}, annotations={}),
        dict(man(amd), platform={"os": "linux", "architecture": "amd64"}, annotations={})]}
    sd = dict(_put_blob(multi, json.dumps(sub).encode()), mediaType="application/vnd.oci.image.index.v1+json",
              annotations={"org.opencontainers.image.ref.name": "multi"})
    od = dict(man(other), annotations={"org.opencontainers.image.ref.name": "other"})
    json.dump({"schemaVersion": 2, "manifests": [sd, od]}, open(os.path.join(multi, "index.json"), "w"))
    r = images("image", "import", multi)
    assert r.rc != 0 and "--ref" in r.err
    images.ok("image", "import", "--ref", "multi", multi)
    images.ok("image", "import", "--ref", "other", "--name", "o", multi)
    for name, want in (("multi", "amd64"), ("o", "other")):
        bundle = hull_rootfs(images, name, workdir, name)
        assert open(os.path.join(bundle, "rootfs", "which")).read() == want
        images.ok("image", "unbundle", bundle)
    r = images("image", "import", "--ref", "nothere", multi)
    assert r.rc != 0 and "no image is named" in r.err


# ---- interrupted imports, progress, CLI errors ----------------------------------------

def big_layout(workdir, mib=96):
    chunk = b"\0" * (4 << 20)
    entries = [("data", "dir")] + [("data/f%02d" % i, "file", {"data": chunk}) for i in range(mib // 4)]
    return make_layout(os.path.join(workdir, "big"), [tar_bytes(entries)], ref="big", compress="none")


def test_killed_import_leaves_nothing_trusted(images, workdir):
    layout = big_layout(workdir)
    p = images.rt.popen("image", "import", "-q", layout, env=images.env)
    tmp = os.path.join(images.root, "tmp")
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and not (os.path.isdir(tmp) and os.listdir(tmp)):
        time.sleep(0.001)
    p.kill()  # SIGKILL: no cleanup code runs
    p.wait()
    assert images.listing("layers") == [] and images.listing("images") == []
    assert len(images.listing("tmp")) == 1
    # the next import removes the dead staging directory and succeeds
    images.ok("image", "import", "-q", layout)
    assert images.listing("tmp") == [] and len(images.listing("layers")) == 1
    bundle = hull_rootfs(images, "big", workdir)
    assert os.path.getsize(os.path.join(bundle, "rootfs", "data", "f00")) == 4 << 20
    images.ok("image", "unbundle", bundle)


def test_progress_line_on_a_terminal(images, workdir):
    layout = big_layout(workdir, mib=40)
    master, slave = pty.openpty()
    try:
        p = subprocess.Popen([images.rt.binary, "image", "import", layout], env=images.env,
                             stdout=subprocess.PIPE, stderr=slave, stdin=subprocess.DEVNULL)
        os.close(slave)
        out, _ = p.communicate(timeout=60)
        assert p.returncode == 0
        seen = b""
        while True:
            r, _, _ = select.select([master], [], [], 0.2)
            if not r:
                break
            try:
                chunk = os.read(master, 4096)
            except OSError:
                break
            if not chunk:
                break
            seen += chunk
    finally:
        os.close(master)
    assert b"importing: " in seen and b"1/1 layers" in seen, seen
    assert len(out.strip()) == 64  # the id on stdout, not mixed with the progress line


def test_cli_errors(images, workdir):
    r = images("image")
    assert r.rc != 0 and "missing command" in r.err
    r = images("image", "frobnicate")
    assert r.rc != 0 and "unknown command" in r.err
    assert "import" in images.ok("image", "--help").out
    assert "--ref" in images.ok("image", "import", "--help").out
    r = images("image", "rm", "nothing")
    assert r.rc != 0 and "no such image" in r.err
    r = images("image", "import", os.path.join(workdir, "missing"))
    assert r.rc != 0 and "missing" in r.err
    empty = os.path.join(workdir, "empty")
    os.makedirs(empty)
    r = images("image", "import", empty)
    assert r.rc != 0 and "neither an OCI image layout" in r.err
    r = images("image", "unbundle", empty)
    assert r.rc != 0 and "not a bundle" in r.err
    r = images("image", "import", "--jobs", "0", empty)
    assert r.rc != 0 and "--jobs" in r.err
    images.assert_empty()
