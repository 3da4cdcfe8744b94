#!/usr/bin/env python3
"""Builds rrun's test images from Debian's busybox-static, deterministically.

    build.py OUTDIR

Writes, for each image NAME, an OCI layout directory OUTDIR/NAME-oci/, an
OCI archive OUTDIR/NAME-oci.tar and a docker-archive OUTDIR/NAME.tar:

  busybox      one gzip layer: busybox and its applet links, /etc/passwd with
               root, nobody and alice (1000, member of 'staff' 50 and 'wheel' 10)
  multilayer   busybox + a zstd layer + an uncompressed layer exercising
               whiteouts, an opaque directory, file->dir and dir->file
               replacements, a hardlink, a symlink, a device node, an xattr,
               set-uid mode, non-root ownership and a fixed mtime
  evil-dotdot  a layer with a '../' path escaping the layer
  evil-abs     a layer with an absolute path
  evil-symlink a symlink to a host directory, then a file written through it
  evil-hardlink a hardlink to a host path (/etc/passwd)
  big          busybox + a 6 MB layer of incompressible bytes (for interrupted pulls)
  duplayer     busybox + a layer L + a layer deleting L's file + L again (the
               manifest lists one layer twice, as images with identical empty layers do)
  multiarch    (OCI layout only) an index with linux/amd64 and linux/arm64
               images; /etc/arch in each says which

Malicious layers aim at /tmp/rrun-evil-*: tests check nothing appears there.
Nothing binary is committed; outputs are rebuilt only when this script or the
busybox binary change (OUTDIR/STAMP).
"""
import gzip
import hashlib
import io
import json
import os
import shutil
import subprocess
import sys
import tarfile

EPOCH = 1704067200  # 2024-01-01T00:00:00Z
CREATED = "2024-01-01T00:00:00Z"
BUSYBOX = "/bin/busybox"
MTIME_PROBE = 1234567890  # the mtime tests look for on /data/keep


def sha256(b):
    return hashlib.sha256(b).hexdigest()


class Layer:
    """An in-memory layer tar built entry by entry, in the order given."""

    def __init__(self):
        self.buf = io.BytesIO()
        self.tar = tarfile.open(fileobj=self.buf, mode="w", format=tarfile.PAX_FORMAT)

    def _info(self, name, kind, mode, uid=0, gid=0, mtime=EPOCH):
        ti = tarfile.TarInfo(name)
        ti.type = kind
        ti.mode = mode
        ti.uid, ti.gid = uid, gid
        ti.uname = ti.gname = ""
        ti.mtime = mtime
        return ti

    def dir(self, name, mode=0o755, **kw):
        self.tar.addfile(self._info(name, tarfile.DIRTYPE, mode, **kw))

    def file(self, name, data, mode=0o644, xattrs=None, **kw):
        ti = self._info(name, tarfile.REGTYPE, mode, **kw)
        ti.size = len(data)
        if xattrs:
            ti.pax_headers = {"SCHILY.xattr." + k: v for k, v in xattrs.items()}
        self.tar.addfile(ti, io.BytesIO(data))

    def symlink(self, name, target):
        ti = self._info(name, tarfile.SYMTYPE, 0o777)
        ti.linkname = target
        self.tar.addfile(ti)

    def hardlink(self, name, target):
        ti = self._info(name, tarfile.LNKTYPE, 0o644)
        ti.linkname = target
        self.tar.addfile(ti)

    def chardev(self, name, major, minor, mode=0o666):
        ti = self._info(name, tarfile.CHRTYPE, mode)
        ti.devmajor, ti.devminor = major, minor
        self.tar.addfile(ti)

    def bytes(self):
        self.tar.close()
        return self.buf.getvalue()


def busybox_layer():
    lay = Layer()
    for d in ["bin", "dev", "etc", "proc", "root", "run", "sbin", "sys", "usr", "usr/bin", "usr/sbin", "var"]:
        lay.dir(d, 0o700 if d == "root" else 0o755)
    lay.dir("tmp", 0o1777)
    with open(BUSYBOX, "rb") as f:
        lay.file("bin/busybox", f.read(), 0o755)
    applets = subprocess.run([BUSYBOX, "--list-full"], capture_output=True, text=True, check=True).stdout.split()
    for a in sorted(set(applets)):
        if a != "bin/busybox":
            lay.symlink(a, "/bin/busybox")
    lay.file("etc/passwd", b"root:x:0:0:root:/root:/bin/sh\n"
             b"nobody:x:65534:65534:nobody:/nonexistent:/bin/false\n"
             b"alice:x:1000:1000:alice:/home/alice:/bin/sh\n")
    lay.file("etc/group", b"root:x:0:\nwheel:x:10:root,alice\nstaff:x:50:alice\n"
             b"alice:x:1000:\nnogroup:x:65534:\n")
    lay.file("etc/hostname", b"rrun-fixture\n")
    lay.dir("home")
    lay.dir("home/alice", 0o755, uid=1000, gid=1000)
    return lay.bytes()


def upper_layer_1():
    """Files that the next layer deletes or replaces (stored zstd-compressed)."""
    lay = Layer()
    lay.dir("data")
    lay.file("data/keep", b"kept\n", mtime=MTIME_PROBE)
    lay.file("data/remove-me", b"deleted by an upper layer\n")
    lay.dir("olddir")
    lay.file("olddir/a", b"hidden by opaque\n")
    lay.file("olddir/b", b"hidden by opaque\n")
    lay.file("etc/motd", b"a file, replaced by a directory above\n")
    lay.dir("dir-to-file")
    lay.file("dir-to-file/inner", b"gone when the dir becomes a file\n")
    lay.dir("gone-dir")
    lay.file("gone-dir/x", b"whole directory whited out\n")
    return lay.bytes()


def upper_layer_2():
    """Whiteouts, opaque dir, replacements and special files (uncompressed)."""
    lay = Layer()
    lay.dir("data")
    lay.file("data/.wh.remove-me", b"")
    lay.file("data/owned", b"owned by 1000:50\n", uid=1000, gid=50)
    lay.file("data/setuid", b"#!/bin/sh\n", mode=0o4755)
    lay.file("data/xattr", b"has user.rrun\n", xattrs={"user.rrun": "fixture"})
    lay.hardlink("data/keep-hardlink", "data/owned")
    lay.symlink("data/link", "keep")
    lay.chardev("data/null", 1, 3)
    lay.dir("olddir")
    lay.file("olddir/.wh..wh..opq", b"")
    lay.file("olddir/new", b"only this is visible\n")
    lay.dir("etc/motd")  # a file below becomes a directory
    lay.file("etc/motd/README", b"replaced a regular file with a directory\n")
    lay.file("dir-to-file", b"was a directory\n")  # a directory below becomes a file
    lay.file(".wh.gone-dir", b"")
    return lay.bytes()


def dup_layers():
    """L adds /dup/a; M deletes it and adds /dup/b; L again brings /dup/a back."""
    l = Layer()
    l.dir("dup")
    l.file("dup/a", b"from the repeated layer\n")
    m = Layer()
    m.dir("dup")
    m.file("dup/.wh.a", b"")
    m.file("dup/b", b"from the middle layer\n")
    return l.bytes(), m.bytes()


def evil_layers():
    out = {}
    lay = Layer()
    lay.file("../../../../../../../../tmp/rrun-evil-dotdot", b"escaped via ..\n")
    out["evil-dotdot"] = lay.bytes()
    lay = Layer()
    lay.file("/tmp/rrun-evil-abs", b"escaped via an absolute path\n")
    out["evil-abs"] = lay.bytes()
    lay = Layer()
    lay.symlink("escape", "/tmp/rrun-evil-symlink")
    lay.file("escape/pwned", b"written through a symlink\n")
    out["evil-symlink"] = lay.bytes()
    lay = Layer()
    lay.hardlink("passwd-link", "/etc/passwd")
    lay.hardlink("passwd-link2", "../../../../../../../../etc/passwd")
    out["evil-hardlink"] = lay.bytes()
    return out


def big_layer():
    import random
    rnd = random.Random(42)
    lay = Layer()
    lay.file("big/random.bin", bytes(rnd.getrandbits(8) for _ in range(6 * 1024 * 1024)))
    return lay.bytes()


def arch_layer(arch):
    lay = Layer()
    lay.file("etc/arch", (arch + "\n").encode())
    return lay.bytes()


def make_multiarch(out, base):
    """An OCI layout whose index has an amd64 and an arm64 manifest."""
    layout = os.path.join(out, "multiarch-oci")
    shutil.rmtree(layout, ignore_errors=True)
    os.makedirs(os.path.join(layout, "blobs", "sha256"))
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    base_blob, media = compress(base, "gzip")
    base_d = write_blob(layout, base_blob)
    entries = []
    for arch, variant in (("amd64", None), ("arm64", "v8")):
        top = arch_layer(arch)
        top_blob, _ = compress(top, "gzip")
        top_d = write_blob(layout, top_blob)
        config = {"created": CREATED, "architecture": arch, "os": "linux",
                  "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": ["sh"]},
                  "rootfs": {"type": "layers", "diff_ids": ["sha256:" + sha256(base), "sha256:" + sha256(top)]}}
        if variant:
            config["variant"] = variant
        cbytes = dumps(config)
        cd = write_blob(layout, cbytes)
        manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + cd,
                               "size": len(cbytes)},
                    "layers": [{"mediaType": media, "digest": "sha256:" + base_d, "size": len(base_blob)},
                               {"mediaType": media, "digest": "sha256:" + top_d, "size": len(top_blob)}]}
        mbytes = dumps(manifest)
        md = write_blob(layout, mbytes)
        platform = {"architecture": arch, "os": "linux"}
        if variant:
            platform["variant"] = variant
        entries.append({"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + md,
                        "size": len(mbytes), "platform": platform})
    inner = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": entries}
    ibytes = dumps(inner)
    idig = write_blob(layout, ibytes)
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": "application/vnd.oci.image.index.v1+json", "digest": "sha256:" + idig,
                            "size": len(ibytes),
                            "annotations": {"org.opencontainers.image.ref.name": "latest"}}]}
    with open(os.path.join(layout, "index.json"), "wb") as f:
        f.write(dumps(index))
    return "multiarch index sha256:%s" % idig


def compress(tar, kind):
    if kind == "gzip":
        return gzip.compress(tar, compresslevel=6, mtime=0), "application/vnd.oci.image.layer.v1.tar+gzip"
    if kind == "zstd":
        blob = subprocess.run(["zstd", "-q", "-3", "-c"], input=tar, capture_output=True, check=True).stdout
        return blob, "application/vnd.oci.image.layer.v1.tar+zstd"
    return tar, "application/vnd.oci.image.layer.v1.tar"


def write_blob(layout, data):
    d = sha256(data)
    path = os.path.join(layout, "blobs", "sha256", d)
    with open(path, "wb") as f:
        f.write(data)
    return d


def dumps(obj):
    return json.dumps(obj, separators=(",", ":"), sort_keys=True).encode()


def make_image(out, name, layers, cmd, history):
    """layers: list of (tar bytes, compression). Writes the three formats."""
    layout = os.path.join(out, name + "-oci")
    shutil.rmtree(layout, ignore_errors=True)
    os.makedirs(os.path.join(layout, "blobs", "sha256"))
    with open(os.path.join(layout, "oci-layout"), "w") as f:
        f.write('{"imageLayoutVersion":"1.0.0"}')
    descs, diff_ids = [], []
    for tar, kind in layers:
        blob, media = compress(tar, kind)
        d = write_blob(layout, blob)
        descs.append({"mediaType": media, "digest": "sha256:" + d, "size": len(blob)})
        diff_ids.append("sha256:" + sha256(tar))
    config = {
        "created": CREATED, "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"], "Cmd": cmd,
                   "WorkingDir": "/", "Labels": {"org.rrun.fixture": name}},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
        "history": [{"created": CREATED, "created_by": h} for h in history],
    }
    cbytes = dumps(config)
    cd = write_blob(layout, cbytes)
    manifest = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": "sha256:" + cd,
                           "size": len(cbytes)},
                "layers": descs}
    mbytes = dumps(manifest)
    md = write_blob(layout, mbytes)
    ref = "docker.io/library/%s:latest" % name
    index = {"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
             "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": "sha256:" + md,
                            "size": len(mbytes), "annotations": {"org.opencontainers.image.ref.name": ref}}]}
    with open(os.path.join(layout, "index.json"), "wb") as f:
        f.write(dumps(index))
    tar_tree(layout, os.path.join(out, name + "-oci.tar"))
    # docker-archive: uncompressed layers, as `docker save` writes them
    members = [("manifest.json", dumps([{"Config": cd + ".json", "RepoTags": [name + ":latest"],
                                         "Layers": [sha256(t) + "/layer.tar" for t, _ in layers]}])),
               (cd + ".json", cbytes)]
    for t, _ in layers:
        if (sha256(t) + "/layer.tar", t) not in members:
            members.append((sha256(t) + "/layer.tar", t))
    write_tar(os.path.join(out, name + ".tar"), members)
    return "%s manifest sha256:%s config sha256:%s" % (name, md, cd)


def write_tar(path, members):
    with tarfile.open(path + ".tmp", "w", format=tarfile.PAX_FORMAT) as t:
        dirs = set()
        for name, data in members:
            parent = os.path.dirname(name)
            if parent and parent not in dirs:
                ti = tarfile.TarInfo(parent)
                ti.type, ti.mode, ti.mtime = tarfile.DIRTYPE, 0o755, EPOCH
                t.addfile(ti)
                dirs.add(parent)
            ti = tarfile.TarInfo(name)
            ti.size, ti.mode, ti.mtime = len(data), 0o644, EPOCH
            t.addfile(ti, io.BytesIO(data))
    os.replace(path + ".tmp", path)


def tar_tree(src, dst):
    members = []
    for root, _, files in os.walk(src):
        for fn in sorted(files):
            p = os.path.join(root, fn)
            with open(p, "rb") as f:
                members.append((os.path.relpath(p, src), f.read()))
    write_tar(dst, sorted(members))


def main():
    out = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "out"))
    os.makedirs(out, exist_ok=True)
    with open(__file__, "rb") as f:
        me = f.read()
    with open(BUSYBOX, "rb") as f:
        bb = f.read()
    stamp = sha256(me + bb)
    stamp_path = os.path.join(out, "STAMP")
    if os.path.exists(stamp_path) and open(stamp_path).read().strip() == stamp:
        return
    summary = []
    base = busybox_layer()
    summary.append(make_image(out, "busybox", [(base, "gzip")], ["sh"], ["busybox-static rootfs"]))
    summary.append(make_image(out, "multilayer", [(base, "gzip"), (upper_layer_1(), "zstd"), (upper_layer_2(), "none")],
                              ["sh"], ["busybox", "files to delete and replace", "whiteouts and replacements"]))
    summary.append(make_image(out, "big", [(base, "gzip"), (big_layer(), "gzip")], ["sh"], ["busybox", "6 MB of random bytes"]))
    summary.append(make_multiarch(out, base))
    dup, middle = dup_layers()
    summary.append(make_image(out, "duplayer", [(base, "gzip"), (dup, "gzip"), (middle, "gzip"), (dup, "gzip")], ["sh"],
                              ["busybox", "adds /dup/a", "deletes /dup/a, adds /dup/b", "adds /dup/a again"]))
    for name, tar in sorted(evil_layers().items()):
        summary.append(make_image(out, name, [(base, "gzip"), (tar, "gzip")], ["sh"], ["busybox", "malicious"]))
    with open(os.path.join(out, "SUMMARY"), "w") as f:
        f.write("\n".join(summary) + "\n")
    with open(stamp_path, "w") as f:
        f.write(stamp + "\n")


if __name__ == "__main__":
    main()
