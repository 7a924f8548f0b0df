"""File-by-file comparison of two trees: hull's overlay rootfs and what
`umoci unpack` makes of the same image.  Used by the image integration
tests and by tests/bench/image.sh; also a script:

    python3 tests/integration/test_image_compare.py TREE_A TREE_B

Compared for every path: type, permission bits (with setuid/setgid/sticky),
owner, size, content (sha256), symlink target, device numbers, mtime, xattrs
(minus overlayfs's own trusted.overlay.*), and which paths are hardlinks of
each other."""

import hashlib
import os
import stat
import sys


def _xattrs(path):
    try:
        names = os.listxattr(path, follow_symlinks=False)
    except OSError:
        return ()
    out = []
    for n in sorted(names):
        if n.startswith("trusted.overlay."):
            continue
        try:
            out.append((n, os.getxattr(path, n, follow_symlinks=False)))
        except OSError:
            pass
    return tuple(out)


def _digest(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def snapshot(root, mtimes=True):
    """{relative path: attributes} and the hardlink groups of root."""
    entries = {}
    inodes = {}
    for dirpath, dirnames, filenames in os.walk(root):
        names = dirnames + filenames
        if dirpath == root:
            names = names + [""]
        for name in names:
            p = os.path.join(dirpath, name) if name else dirpath
            rel = os.path.relpath(p, root)
            st = os.lstat(p)
            kind = stat.S_IFMT(st.st_mode)
            attrs = {
                "type": kind,
                "mode": stat.S_IMODE(st.st_mode),
                "owner": (st.st_uid, st.st_gid),
                "xattrs": _xattrs(p),
            }
            if mtimes and kind != stat.S_IFLNK:
                attrs["mtime"] = st.st_mtime_ns
            if kind == stat.S_IFREG:
                attrs["size"] = st.st_size
                attrs["sha256"] = _digest(p)
                if st.st_nlink > 1:
                    inodes.setdefault((st.st_dev, st.st_ino), []).append(rel)
            elif kind == stat.S_IFLNK:
                attrs["target"] = os.readlink(p)
            elif kind in (stat.S_IFCHR, stat.S_IFBLK):
                attrs["rdev"] = (os.major(st.st_rdev), os.minor(st.st_rdev))
            entries[rel] = attrs
    links = {}
    for group in inodes.values():
        if len(group) > 1:
            key = tuple(sorted(group))
            for rel in group:
                links[rel] = key
    for rel, key in links.items():
        entries[rel]["hardlinks"] = key
    return entries


def compare(a, b, mtimes=True, limit=20):
    """Differences between trees a and b, as readable lines (empty: same)."""
    sa, sb = snapshot(a, mtimes), snapshot(b, mtimes)
    diffs = []
    for rel in sorted(set(sa) | set(sb)):
        if rel not in sa:
            diffs.append("only in %s: %s" % (b, rel))
        elif rel not in sb:
            diffs.append("only in %s: %s" % (a, rel))
        else:
            for k in sorted(set(sa[rel]) | set(sb[rel])):
                if sa[rel].get(k) != sb[rel].get(k):
                    diffs.append("%s: %s differs: %r vs %r" % (rel, k, sa[rel].get(k), sb[rel].get(k)))
    return diffs[:limit] + (["... %d more" % (len(diffs) - limit)] if len(diffs) > limit else [])


def test_compare_finds_differences(tmp_path):
    a, b = tmp_path / "a", tmp_path / "b"
    for d in (a, b):
        d.mkdir()
        (d / "f").write_text("same")
        os.utime(d / "f", ns=(10**18, 10**18))
    assert compare(str(a), str(b), mtimes=False) == []
    (b / "f").write_text("other")
    (b / "g").write_text("")
    diffs = compare(str(a), str(b), mtimes=False)
    assert any("f: sha256 differs" in d for d in diffs)
    assert any("only in %s: g" % b in d for d in diffs)


def main(argv):
    if len(argv) != 3:
        print("usage: %s TREE_A TREE_B" % argv[0], file=sys.stderr)
        return 2
    n = len(snapshot(argv[1], False))
    diffs = compare(argv[1], argv[2])
    if diffs:
        print("DIFFERENT (%d paths in %s):" % (n, argv[1]))
        for d in diffs:
            print("  " + d)
        return 1
    print("identical: %d paths (type, content, mode, owner, xattrs, targets, devices, mtimes, hardlinks)" % n)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
