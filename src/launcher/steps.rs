//! Every kernel step of the launcher, in the order a container start runs
//! them: what each does and why. Read top to bottom, this is how a forked
//! copy of rrun becomes an isolated container process. The code that does
//! each step emits it with `step!` and its real arguments; `rrun -vv` logs
//! them and `rrun run --explain` narrates them.

crate::steps! {
    // ── before the clone, in rrun ─────────────────────────────────────────
    SECCOMP_COMPILE: "seccomp_compile" in Security, syscall "libseccomp (in rrun)", source "src/launcher/seccomp.rs",
        what "Compile the seccomp profile into a BPF program",
        why "The profile (Docker's default: about 300 allowed system calls) becomes a small classic-BPF program the kernel runs at every system call of the container. It is compiled in rrun, before the fork, and cached by profile, so the container's init only has to load it.";
    PID_NAMESPACE_JOIN: "pid_namespace_join" in Namespaces, syscall "setns(CLONE_NEWPID)", source "src/launcher/for_children.rs",
        what "Have the next child born in an existing PID namespace",
        why "A process cannot change its own PID namespace, only the one its children are born in (pid_for_children). rrun enters it just around the clone, so the new process starts inside it and sees the other container's processes.";
    TIME_NAMESPACE: "time_namespace" in Namespaces, syscall "unshare(CLONE_NEWTIME)", source "src/launcher/for_children.rs",
        what "Make a new time namespace for the next child",
        why "A time namespace shifts CLOCK_MONOTONIC and CLOCK_BOOTTIME for the processes in it (a restored checkpoint keeps its uptime); like PID namespaces, it applies to the children born after the unshare.";
    TIME_OFFSETS: "time_offsets" in Namespaces, syscall "write /proc/self/timens_offsets", source "src/launcher/for_children.rs",
        what "Set the clock offsets of the new time namespace",
        why "The offsets can be written only before any process lives in the namespace: that is, now, before the clone.";
    IDMAP_TREE: "idmap_tree" in Mounts, syscall "open_tree + mount_setattr(MOUNT_ATTR_IDMAP)", source "src/launcher/idmap.rs",
        what "Make an idmapped copy of a bind mount's source",
        why "An idmapped mount shows a host directory's files with their owners translated through the container's user namespace map, so the container's root owns what the host's uid 100000 owns, without a chown of the files.";
    CLONE: "clone" in Namespaces, syscall "clone", source "src/launcher/mod.rs",
        what "Clone the process that becomes the container",
        why "One clone(2) makes a new process and, with each CLONE_NEW* flag, a namespace it alone lives in: its own mount table (NEWNS), PIDs starting at 1 (NEWPID), hostname (NEWUTS), System V IPC (NEWIPC), network stack (NEWNET), uid map (NEWUSER). The child is still a copy of rrun; it sets itself up and finally execs the command. Without namespaces it would see and change the host's processes, mounts and hostname.";
    CLONE_INTO_CGROUP: "clone_into_cgroup" in Namespaces, syscall "clone3(CLONE_INTO_CGROUP)", source "src/launcher/mod.rs",
        what "Clone the process that becomes the container, born in its cgroup",
        why "On cgroup v2, clone3 can place the new process in a cgroup atomically: it never runs a single instruction outside its limits, and no later move is needed.";
    SETNS: "setns" in Namespaces, syscall "setns", source "src/launcher/child.rs",
        what "Join a namespace another process already has",
        why "setns(2) moves the calling process into an existing namespace, named by a /proc/PID/ns/* file: that is how --ipc=container:NAME shares a namespace, and how `exec` enters a running container.";
    ID_MAPS: "id_maps" in Namespaces, syscall "write /proc/PID/uid_map, gid_map", source "src/launcher/mod.rs",
        what "Write the user namespace's uid and gid maps",
        why "A new user namespace maps nobody until its parent writes the maps: each line maps a range of ids inside to ids outside. Root in the container is then an unprivileged uid on the host; the child waits for these writes before it goes on.";
    MOUNT_SOURCES: "mount_sources" in Mounts, syscall "setns(CLONE_NEWNS) + open(O_PATH)", source "src/launcher/mount_sources.rs",
        what "Open the bind sources for a user-namespaced init",
        why "In a new user namespace the init may not be able to reach host paths (their directories are not its to enter); rrun opens them for it, from inside its mount namespace, and hands the descriptors over.";
    GO: "go" in Namespaces, syscall "sendmsg (sync socket)", source "src/launcher/mod.rs",
        what "Let the init go on",
        why "rrun and the init talk over a socketpair: the init waits here until rrun has done what only the parent can do (id maps, bind sources). Every later message is the init's: a terminal, an error, or end-of-file when its exec closed the socket.";
    // ── in the container's init ───────────────────────────────────────────
    NON_DUMPABLE: "non_dumpable" in Security, syscall "prctl(PR_SET_DUMPABLE, 0)", source "src/launcher/child.rs",
        what "Make the init non-dumpable until it execs",
        why "Until exec, the init is a copy of the host's rrun binary inside the container's namespaces. Non-dumpable, no process in the container can open its /proc/PID/exe, mem or fd/ — the hole of CVE-2019-5736, where a container overwrote the host's runc. execve makes the command dumpable again.";
    PARENT_DEATH_SIGNAL: "parent_death_signal" in Security, syscall "prctl(PR_SET_PDEATHSIG, SIGKILL)", source "src/launcher/child.rs",
        what "Die with rrun",
        why "A foreground container never outlives the rrun that started it: if rrun is killed, the kernel sends SIGKILL to the init, and the whole PID namespace goes with it.";
    RDT_JOIN: "rdt_join" in Security, syscall "write tasks (resctrl)", source "src/launcher/child.rs",
        what "Join the Intel RDT class of service",
        why "Intel RDT partitions the shared last-level cache and memory bandwidth between classes of service (resctrl groups); the init joins the one the spec (a CDI device, intelRdt) names, before it runs anything, and the command inherits it.";
    USERNS_ROOT: "userns_root" in Namespaces, syscall "setresgid(0, 0, 0) + setresuid(0, 0, 0)", source "src/launcher/child.rs",
        what "Become root of the new user namespace",
        why "With the maps written, uid 0 inside exists: the init takes it, and with it every capability over the namespaces its user namespace owns — none over the host. An id the maps leave out is not asked for (the kernel would refuse it); a mapped one the kernel refuses stops the container.";
    CGROUP_NAMESPACE: "cgroup_namespace" in Namespaces, syscall "unshare(CLONE_NEWCGROUP)", source "src/launcher/child.rs",
        what "Make a cgroup namespace rooted at the container's cgroup",
        why "Done once the init is in its cgroup: /proc/self/cgroup then shows \"/\", and a cgroup filesystem mounted inside shows the container's own subtree, not the host's hierarchy and its other containers.";
    LOOPBACK: "loopback" in Namespaces, syscall "ioctl(SIOCSIFFLAGS)", source "src/launcher/attrs.rs",
        what "Bring up lo in the new network namespace",
        why "A new network namespace has only a loopback interface, and it is down: programs that talk to 127.0.0.1 would fail. runc and crun bring it up too.";
    MOUNT_PROPAGATION: "mount_propagation" in Mounts, syscall "mount(MS_REC|MS_SLAVE) on /", source "src/launcher/mounts.rs",
        what "Stop mounts from propagating back to the host",
        why "The new mount namespace starts as a copy of the host's, and shared mounts would carry every mount made here back to the host. As slaves, host mounts still appear inside, but nothing mounted inside leaks out.";
    PARENT_PRIVATE: "parent_private" in Mounts, syscall "mount(MS_PRIVATE)", source "src/launcher/mounts.rs",
        what "Make the rootfs's parent mount private",
        why "pivot_root refuses a new root whose parent mount is shared; this changes only that mount, in the container's own mount namespace.";
    MOUNT_OVERLAY: "mount_overlay" in Rootfs, syscall "mount(\"overlay\")", source "src/launcher/mounts.rs",
        what "Stack the image layers with overlayfs",
        why "The layers are read-only lowerdirs (top first), the container's upper/ takes every write, work/ is overlayfs's scratch space. Many containers share the same unpacked layers; a file changed in one is copied up into its upper/ only. Mounted inside the container's mount namespace, the overlay disappears with it, even if rrun is killed.";
    MOUNT_FUSE_OVERLAY: "mount_fuse_overlay" in Rootfs, syscall "fork + execve fuse-overlayfs", source "src/launcher/mounts.rs",
        what "Stack the image layers with fuse-overlayfs (rootless)",
        why "Where the kernel will not mount overlayfs in a user namespace (before Linux 5.11, or by policy), a program does the same in user space through FUSE: the same lowerdirs, upper and work directories, served by a daemon that lives in the container's PID namespace and ends with it. Slower than the kernel's, so only a fallback.";
    BIND_ROOTFS: "bind_rootfs" in Rootfs, syscall "mount(MS_BIND|MS_REC)", source "src/launcher/mounts.rs",
        what "Bind the bundle's rootfs onto itself",
        why "An OCI bundle's rootfs is a plain directory; pivot_root needs a mount point, so the directory is bound onto itself.";
    VOLUME_COPY_UP: "volume_copy_up" in Mounts, syscall "openat + copy", source "src/launcher/copyup.rs",
        what "Fill an empty volume with the image's files",
        why "Docker's rule for a new volume: it starts with what the image has at that path (owners and modes kept), so mounting it does not hide the image's files there.";
    MOUNT: "mount" in Mounts, syscall "mount", source "src/launcher/mounts.rs",
        what "Mount a filesystem in the container",
        why "Each of the spec's mounts is made inside the rootfs, the target resolved with openat2(RESOLVE_IN_ROOT) so a symlink planted in the image cannot point it at the host (CVE-2021-30465). /proc is a new procfs that shows only the container's PID namespace; /dev a small tmpfs; /dev/pts a devpts of its own.";
    BIND_MOUNT: "bind_mount" in Mounts, syscall "mount(MS_BIND)", source "src/launcher/mounts.rs",
        what "Bind a host file or directory into the container",
        why "A bind mount makes a host path visible at a second place: volumes, and the container's own /etc/hosts, /etc/hostname and /etc/resolv.conf, which rrun wrote in the container's directory so the image's stay untouched.";
    REMOUNT: "remount" in Mounts, syscall "mount(MS_REMOUNT|MS_BIND)", source "src/launcher/mounts.rs",
        what "Apply a bind mount's flags",
        why "A bind mount ignores flags such as MS_RDONLY or MS_NOSUID; they take effect with a remount of the new mount point (`:ro` volumes).";
    MOUNT_SETATTR: "mount_setattr" in Mounts, syscall "mount_setattr", source "src/launcher/mounts.rs",
        what "Set attributes on a mount and everything under it",
        why "mount_setattr(2) changes a whole mount tree at once (runc's recursive options such as rro, rnosuid), which a remount cannot.";
    IDMAP_ATTACH: "idmap_attach" in Mounts, syscall "move_mount", source "src/launcher/idmap.rs",
        what "Attach the idmapped tree at its mount point",
        why "The tree rrun idmapped before the clone is a detached mount; move_mount(2) puts it in place in the container.";
    TMPCOPYUP: "tmpcopyup" in Mounts, syscall "mount(\"tmpfs\") + copy + mount(MS_MOVE)", source "src/launcher/mounts.rs",
        what "Mount a tmpfs that starts with the image's files",
        why "runc's tmpcopyup: the tmpfs is filled with what the image has at that path before it is moved over it.";
    MOUNT_CGROUPS: "mount_cgroups" in Mounts, syscall "mount", source "src/launcher/mounts.rs",
        what "Show the container its cgroups under /sys/fs/cgroup",
        why "Programs read their limits there (memory.max, cpu.max). Inside a cgroup namespace the mounted hierarchy shows only the container's subtree; otherwise rrun binds the container's own cgroup directories. Read-only: nothing inside may raise its own limits.";
    MKNOD: "mknod" in Mounts, syscall "mknodat", source "src/launcher/mounts.rs",
        what "Create a device node",
        why "The container's /dev is a fresh tmpfs, not the host's: it gets only the standard nodes (null, zero, full, random, urandom, tty) and the devices asked for. The device cgroup decides whether a node may be opened at all.";
    DEV_SYMLINKS: "dev_symlinks" in Mounts, syscall "symlinkat", source "src/launcher/mounts.rs",
        what "Create /dev's standard links",
        why "/dev/fd, /dev/stdin, /dev/stdout, /dev/stderr point into /proc/self/fd; /dev/ptmx at the container's own devpts, so terminals opened inside come from its own instance.";
    SYSCTL: "sysctl" in Namespaces, syscall "write /proc/sys/…", source "src/launcher/attrs.rs",
        what "Set a namespaced kernel parameter",
        why "Only parameters that belong to one of the container's own namespaces (net.*, kernel.msg*, kernel.shm*, fs.mqueue.*) are allowed: written through the container's /proc, they change its namespace, not the host.";
    MASK_PATH: "mask_path" in Security, syscall "mount (/dev/null or an empty read-only tmpfs)", source "src/launcher/mounts.rs",
        what "Hide a path of /proc or /sys",
        why "Some kernel files are not namespaced and leak the host or let a process poke at it (/proc/kcore, /proc/keys, /proc/sched_debug, /sys/firmware…): they are covered with /dev/null, or an empty read-only tmpfs for a directory.";
    READONLY_PATH: "readonly_path" in Security, syscall "mount(MS_BIND) + remount(MS_RDONLY)", source "src/launcher/mounts.rs",
        what "Make a path of /proc read-only",
        why "/proc/sys, /proc/sysrq-trigger, /proc/irq, /proc/bus… stay readable but cannot be written: they change the whole host's kernel.";
    REMOUNT_READONLY: "remount_readonly" in Mounts, syscall "mount(MS_REMOUNT|MS_RDONLY)", source "src/launcher/mounts.rs",
        what "Make a tmpfs read-only now that it is filled",
        why "A read-only tmpfs (a read-only /dev) was mounted writable so that device nodes and mount points could be made in it; it becomes read-only once they are.";
    MKDIR_CWD: "mkdir_cwd" in Identity, syscall "mkdirat", source "src/launcher/child.rs",
        what "Create the working directory",
        why "The image may not have the directory the process starts in (-w); Docker creates it, inside the rootfs.";
    SETHOSTNAME: "sethostname" in Identity, syscall "sethostname", source "src/launcher/child.rs",
        what "Set the container's hostname",
        why "In its own UTS namespace the container has a hostname of its own (by default the first 12 characters of its ID); the host's is untouched.";
    SETDOMAINNAME: "setdomainname" in Identity, syscall "setdomainname", source "src/launcher/child.rs",
        what "Set the container's NIS domain name",
        why "Like the hostname, it belongs to the UTS namespace.";
    HOOK: "hook" in Exec, syscall "fork + execve (the hook)", source "src/launcher/hooks.rs",
        what "Run an OCI hook",
        why "Hooks let an engine act at fixed points of the start (prestart and createRuntime in the runtime's namespaces, createContainer and startContainer in the container's, poststart and poststop after): the container's state arrives on the hook's stdin.";
    KEYRING: "keyring" in Security, syscall "keyctl(KEYCTL_JOIN_SESSION_KEYRING)", source "src/launcher/attrs.rs",
        what "Join a new session keyring",
        why "Kernel keyrings are not namespaced: without a keyring of its own, the container would share the caller's session keys.";
    PIVOT_ROOT: "pivot_root" in Mounts, syscall "pivot_root", source "src/launcher/mounts.rs",
        what "Make the rootfs the root",
        why "pivot_root(\".\", \".\") makes the image's tree \"/\" of the mount namespace and stacks the old root under it, to be detached next. Unlike chroot, nothing is left to climb out through: no path inside leads to the host's files.";
    DETACH_OLD_ROOT: "detach_old_root" in Mounts, syscall "umount2(MNT_DETACH)", source "src/launcher/mounts.rs",
        what "Detach the host's root",
        why "The host's whole mount tree was still stacked under the new root; detached (made a slave first, so the unmount cannot propagate to the host), it is gone from the container for good.";
    HIDE_HOST_PROC: "hide_host_proc" in Mounts, syscall "umount2(MNT_DETACH)", source "src/launcher/mounts.rs",
        what "Remove the host's /proc and /sys before --no-pivot",
        why "Without pivot_root the host's root stays underneath; its full procfs and sysfs must go first, or the container could mount a procfs showing what its masked paths hide.";
    MOVE_ROOT: "move_root" in Mounts, syscall "mount(MS_MOVE) + chroot", source "src/launcher/mounts.rs",
        what "Move the rootfs onto / and chroot into it (--no-pivot)",
        why "For roots that cannot be pivoted (an initramfs); weaker than pivot_root, which is why it is never the default.";
    CHROOT: "chroot" in Mounts, syscall "chroot", source "src/launcher/mounts.rs",
        what "Change root into the rootfs (no mount namespace)",
        why "A container without a mount namespace of its own cannot pivot_root (it would change the host's): it is only chrooted, as runc does.";
    ROOT_PROPAGATION: "root_propagation" in Mounts, syscall "mount(MS_SHARED|MS_SLAVE…) on /", source "src/launcher/mounts.rs",
        what "Set the propagation the spec asks for on the new /",
        why "rootfsPropagation: shared puts the container's root in a peer group of its own, so mounts can flow out to chosen places (as runc and crun do).";
    READONLY_ROOT: "readonly_root" in Mounts, syscall "mount(MS_REMOUNT|MS_BIND|MS_RDONLY) on /", source "src/launcher/mounts.rs",
        what "Make the root filesystem read-only",
        why "--read-only: once every mount is in place, / is remounted read-only, so the container can write only to its volumes and tmpfs mounts.";
    PERSONALITY: "personality" in Identity, syscall "personality", source "src/launcher/attrs.rs",
        what "Set the execution domain",
        why "LINUX32 makes `uname -m` report a 32-bit machine, for 32-bit programs and their build systems.";
    MEMORY_POLICY: "memory_policy" in Security, syscall "set_mempolicy", source "src/launcher/mempolicy.rs",
        what "Set the NUMA memory policy",
        why "Which NUMA nodes the process's memory comes from; inherited across exec by the command.";
    // ── becoming the process ──────────────────────────────────────────────
    SETSID: "setsid" in Identity, syscall "setsid", source "src/launcher/child.rs",
        what "Start a new session",
        why "The process leaves rrun's session and terminal: keyboard signals reach it only through rrun, which forwards them, and it may get a terminal of its own.";
    TERMINAL: "terminal" in Identity, syscall "open(/dev/ptmx) + ioctl(TIOCSCTTY)", source "src/launcher/child.rs",
        what "Open a terminal in the container's devpts",
        why "-t: the pseudo-terminal comes from the container's own devpts, becomes the controlling terminal and stdin/stdout/stderr; its master side goes to rrun over the sync socket (SCM_RIGHTS), which relays it to yours.";
    CONSOLE_SIZE: "console_size" in Identity, syscall "ioctl(TIOCSWINSZ)", source "src/launcher/child.rs",
        what "Set the terminal's size",
        why "So that full-screen programs draw for the right number of rows and columns from their first frame.";
    CONSOLE_SOCKET: "console_socket" in Identity, syscall "connect + sendmsg(SCM_RIGHTS)", source "src/launcher/tty.rs",
        what "Hand the terminal to the engine's console socket",
        why "An engine (Podman's conmon, containerd's shim) owns the container's terminal: rrun sends it the master side and keeps nothing.";
    STDIO: "stdio" in Identity, syscall "dup2", source "src/launcher/child.rs",
        what "Connect stdin, stdout and stderr",
        why "Without a terminal the process's standard descriptors are /dev/null, rrun's own, or pipes rrun reads to relay and log the output (json-file, as `rrun logs` shows it).";
    RLIMIT: "rlimit" in Security, syscall "setrlimit", source "src/launcher/identity.rs",
        what "Set a resource limit",
        why "Per-process limits (open files, processes, core size…) survive exec; a hard limit can be lowered but never raised again without CAP_SYS_RESOURCE.";
    OOM_SCORE_ADJ: "oom_score_adj" in Security, syscall "write /proc/self/oom_score_adj", source "src/launcher/attrs.rs",
        what "Adjust the OOM killer's score",
        why "When memory runs out, the kernel kills the process with the highest score first; a container can be made a more or less likely victim.";
    IO_PRIORITY: "io_priority" in Security, syscall "ioprio_set", source "src/launcher/attrs.rs",
        what "Set the I/O scheduling class and priority",
        why "Inherited by the command and its children: how the block layer orders their requests against others'.";
    SCHEDULER: "scheduler" in Security, syscall "sched_setattr", source "src/launcher/attrs.rs",
        what "Set the CPU scheduling policy",
        why "The policy, nice value or deadline parameters the spec asks for, set while the init still has the privilege to.";
    UMASK: "umask" in Identity, syscall "umask", source "src/launcher/identity.rs",
        what "Set the file mode creation mask",
        why "Which permission bits new files do not get (0022 unless the spec says otherwise); inherited across exec.";
    LSM_LABEL: "lsm_label" in Security, syscall "write /proc/self/attr/…/exec", source "src/launcher/lsm.rs",
        what "Set the AppArmor profile or SELinux label for the exec",
        why "A mandatory access control policy confines the process beyond its capabilities; it takes effect at exec.";
    CHDIR: "chdir" in Identity, syscall "chdir", source "src/launcher/finalize.rs",
        what "Enter the working directory",
        why "Checked to be inside the root afterwards (getcwd): a working directory left outside it, or a host descriptor leaked to reach one, was CVE-2024-21626.";
    HOME: "home" in Identity, syscall "read /etc/passwd", source "src/launcher/child.rs",
        what "Set HOME from the container's /etc/passwd",
        why "The image's environment has no HOME: like runc and crun, rrun takes the user's home directory from the container's own passwd file.";
    BOUNDING_SET: "bounding_set" in Security, syscall "prctl(PR_CAPBSET_DROP)", source "src/launcher/identity.rs",
        what "Drop capabilities from the bounding set",
        why "Root's power is split into about 40 capabilities. The bounding set caps what any program run from here on can ever gain, even a set-uid root binary: Docker keeps 14 (chown, kill, net_bind_service…) and drops the rest (sys_admin, sys_module, sys_time…).";
    SETGROUPS: "setgroups" in Identity, syscall "setgroups", source "src/launcher/identity.rs",
        what "Set the supplementary groups",
        why "Replaces rrun's own groups with the container user's: none is inherited from the host.";
    SETRESGID: "setresgid" in Identity, syscall "setresgid", source "src/launcher/identity.rs",
        what "Become the container's group",
        why "Real, effective and saved group ids all change, so nothing can switch back.";
    SETRESUID: "setresuid" in Identity, syscall "setresuid", source "src/launcher/identity.rs",
        what "Become the container's user",
        why "Real, effective and saved user ids all change; capabilities are kept across the change (PR_SET_KEEPCAPS) only to be set exactly next.";
    CAPABILITIES: "capabilities" in Security, syscall "capset", source "src/launcher/identity.rs",
        what "Set the effective, permitted, inheritable and ambient capabilities",
        why "The process gets exactly the capabilities the spec lists: root in a container is far less than root on the host (no mounts, no module loading, no raw devices).";
    NO_NEW_PRIVS: "no_new_privs" in Security, syscall "prctl(PR_SET_NO_NEW_PRIVS)", source "src/launcher/identity.rs",
        what "Forbid gaining privileges",
        why "--security-opt no-new-privileges: set-uid binaries and file capabilities grant nothing any more, for this process and everything it runs.";
    SECCOMP: "seccomp" in Security, syscall "seccomp(SECCOMP_SET_MODE_FILTER)", source "src/launcher/seccomp.rs",
        what "Load the seccomp filter",
        why "From now on every system call is checked by the BPF program: the kernel refuses the ones the profile does not allow (kexec_load, open_by_handle_at, add_key, keyctl, unshare of new namespaces without CAP_SYS_ADMIN…), shrinking the kernel surface a container can attack. Loaded while CAP_SYS_ADMIN is held, or last of all under no_new_privs.";
    SECCOMP_LISTENER: "seccomp_listener" in Security, syscall "connect + sendmsg(SCM_RIGHTS)", source "src/launcher/seccomp.rs",
        what "Send the seccomp notify descriptor to the agent",
        why "With SCMP_ACT_NOTIFY a user-space agent decides some system calls of the container: it gets the filter's notify descriptor over its listenerPath socket.";
    CLOSE_FDS: "close_fds" in Security, syscall "close_range(CLOSE_RANGE_CLOEXEC)", source "src/launcher/finalize.rs",
        what "Close every other descriptor on exec",
        why "No descriptor rrun holds (a host directory, the store) may survive into the container: an open host directory is a way out of the root (CVE-2024-21626).";
    CREATED: "created" in Exec, syscall "sendmsg (sync socket)", source "src/launcher/child.rs",
        what "Tell rrun the container is created",
        why "OCI create ends here: everything is set up, and `create` returns while the init waits for `start`.";
    WAIT_START: "wait_start" in Exec, syscall "open(exec.fifo, O_WRONLY)", source "src/launcher/child.rs",
        what "Wait for `start` on the exec FIFO",
        why "Opening a FIFO for writing blocks until someone opens it for reading: `start` does, and the init goes on to exec. Nothing else has to stay running meanwhile.";
    INIT_FORK: "init_fork" in Exec, syscall "fork", source "src/launcher/child.rs",
        what "Fork the command under a minimal init (--init)",
        why "PID 1 of a namespace must reap orphaned zombies and gets no default signal handlers; a small non-dumpable init does that and forwards signals, while the command runs as its child.";
    RESET_SIGNALS: "reset_signals" in Exec, syscall "sigaction(SIG_DFL) + sigprocmask", source "src/launcher/child.rs",
        what "Reset signal dispositions and the mask",
        why "Ignored signals and the signal mask survive exec: the command must start with the defaults a fresh program expects, not rrun's.";
    EXECVE: "execve" in Exec, syscall "execve", source "src/launcher/child.rs",
        what "Run the container's command",
        why "The process image is replaced: rrun's code is gone, and every close-on-exec descriptor (the sync socket among them) closes — which is how rrun learns the exec succeeded.";
    // ── back in rrun ──────────────────────────────────────────────────────
    STARTED: "started" in Exec, syscall "recvmsg (end of file)", source "src/launcher/mod.rs",
        what "See the exec happen",
        why "End-of-file on the sync socket, with no error message before it, means the command is running; rrun now relays its output and forwards signals to it.";
    MONITOR: "monitor" in Exec, syscall "fork + setsid + fork", source "src/launcher/detach.rs",
        what "Start the container's monitor (detached)",
        why "-d: no daemon keeps the container; a double fork leaves a small monitor in its own session that waits for it, logs its output and records its exit, while the command line returns.";
    WAIT: "wait" in Cleanup, syscall "waitpid", source "src/launcher/mod.rs",
        what "Collect the exit status",
        why "The init was rrun's child: waitpid reaps it and tells how it ended; a signal N becomes exit code 128+N. When PID 1 of a PID namespace exits, the kernel kills every other process in it.";
}
