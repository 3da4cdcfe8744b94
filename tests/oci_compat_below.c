/* Helper of tests/oci_compat.rs (see mounts_below_helper there): enters the mount
   namespace argv[1] names, detaches the mount stacked on its root, enters again and
   lists the mounts left (listmount/statmount, Linux 6.8): FSTYPE ROOT MOUNTPOINT. */
#define _GNU_SOURCE
#include <fcntl.h>
#include <sched.h>
#include <stdint.h>
#include <stdio.h>
#include <sys/mount.h>
#include <sys/syscall.h>
#include <unistd.h>

struct mnt_id_req { uint32_t size, spare; uint64_t mnt_id, param, mnt_ns_id; };
struct statmount_buf {
  uint32_t size, mnt_opts; uint64_t mask; uint32_t sb_dev_major, sb_dev_minor; uint64_t sb_magic;
  uint32_t sb_flags, fs_type; uint64_t mnt_id, mnt_parent_id; uint32_t mnt_id_old, mnt_parent_id_old;
  uint64_t mnt_attr, mnt_propagation, mnt_peer_group, mnt_master, propagate_from;
  uint32_t mnt_root, mnt_point; uint64_t mnt_ns_id; uint64_t spare2[49]; char str[];
};
#define SYS_STATMOUNT 457
#define SYS_LISTMOUNT 458
#define LSMT_ROOT 0xffffffffffffffffULL
#define STATMOUNT_MNT_ROOT 0x8
#define STATMOUNT_MNT_POINT 0x10
#define STATMOUNT_FS_TYPE 0x20

int main(int argc, char **argv) {
  if (argc < 2) return 2;
  int fd = open(argv[1], O_RDONLY);
  if (fd < 0 || setns(fd, CLONE_NEWNS) < 0) { perror("setns"); return 1; }
  if (umount2("/", MNT_DETACH) < 0) { perror("umount /"); return 1; }
  if (setns(fd, CLONE_NEWNS) < 0) { perror("setns again"); return 1; }
  static uint64_t ids[4096];
  struct mnt_id_req req = { .size = 24, .mnt_id = LSMT_ROOT };
  long n = syscall(SYS_LISTMOUNT, &req, ids, 4096, 0);
  if (n < 0) { perror("listmount"); return 1; }
  for (long i = 0; i < n; i++) {
    static char buf[65536];
    struct statmount_buf *s = (struct statmount_buf *)buf;
    struct mnt_id_req r = { .size = 24, .mnt_id = ids[i], .param = STATMOUNT_MNT_ROOT | STATMOUNT_MNT_POINT | STATMOUNT_FS_TYPE };
    if (syscall(SYS_STATMOUNT, &r, s, sizeof buf, 0) < 0) { perror("statmount"); return 1; }
    printf("%s %s %s\n", s->str + s->fs_type, s->str + s->mnt_root, s->str + s->mnt_point);
  }
  return 0;
}
