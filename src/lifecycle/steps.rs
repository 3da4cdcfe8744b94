//! The steps of a container's life that are rrun's own, around the
//! launcher's: its directories, its files, its spec, and its removal.

crate::steps! {
    CONTAINER_DIRS: "container_dirs" in Rootfs, syscall "mkdir", source "src/lifecycle/mod.rs",
        what "Make the container's directories",
        why "upper/ will take every file the container writes (overlayfs copies a file up on its first change), work/ is overlayfs's scratch space on the same filesystem, rootfs/ the mount point. Made under tmp/ and renamed into containers/ID/ at once.";
    ETC_FILES: "etc_files" in Rootfs, syscall "write", source "src/lifecycle/mod.rs",
        what "Write the container's hosts, hostname and resolv.conf",
        why "Each container needs its own /etc/hosts (its name resolves to itself), /etc/hostname and a resolv.conf fit for its network; written in its directory and bind-mounted over the image's, so the image's layers are never changed.";
    WRITE_SPEC: "write_spec" in Rootfs, syscall "write config.json", source "src/lifecycle/mod.rs, src/spec/mod.rs",
        what "Write the OCI runtime spec",
        why "Everything the launcher will do is decided here, from the image config and the command line, and written down as config.json — the format every OCI runtime (runc, crun) reads. `rrun run --dry-run` prints it without creating anything.";
    REMOVE_CONTAINER: "remove_container" in Cleanup, syscall "rename + unlink (recursive)", source "src/lifecycle/mod.rs",
        what "Remove the container's directory (--rm)",
        why "The upper layer, the spec and the record go. There is no overlay to unmount: it was mounted inside the container's mount namespace, which vanished with its last process.";
}
