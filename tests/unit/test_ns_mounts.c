/* Unit tests for the parts of ns/rootfs.c and ns/mounts.c that need no
 * namespace: lexical path clean-up, resolution inside a rootfs directory
 * (symlinks, "..", creation), and ns_validate_mounts' messages. */
#include "unit.h"
#include "ns-rootfs-fixture.h"

TEST (path_clean)
{
  const char *cases[][2] = {
    { "/", "/" },        { "", "/" },           { "/a/b/", "/a/b" },     { "//a//./b", "/a/b" },
    { "/a/../..", "/" }, { "/../etc", "/etc" }, { "/a/b/../c", "/a/c" }, { "a/b", "/a/b" },
  };
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      cleanup_free char *c = ns_path_clean (cases[i][0]);
      CHECK_STR (c, cases[i][1]);
    }
}

/* ns_resolve_in_root's canonical result, or "E<errno> <message>". */
static char *
resolve (int root, const char *path, enum ns_create create, unsigned flags)
{
  hull_error_t err = NULL;
  char *res = NULL;
  int fd = ns_resolve_in_root (root, path, create, flags, &res, &err);
  if (fd >= 0)
    {
      close (fd);
      return res;
    }
  free (res);
  res = hull_fmt ("E%d %s", err->status, err->msg);
  hull_error_release (&err);
  return res;
}

/* The resolver itself, on a plain directory (no mounts needed). */
TEST (resolve_in_root)
{
  struct env e;
  CHECK (env_setup (&e) == 0);
  char p[256], want[300], host_new[300], inside[512];
  CHECK (symlink (e.outside, in_rootfs (&e, "abs", p)) == 0);             /* absolute, to the host */
  CHECK (symlink ("../../../../../../..", in_rootfs (&e, "up", p)) == 0); /* climbs out */
  CHECK (symlink ("loop2", in_rootfs (&e, "loop1", p)) == 0);
  CHECK (symlink ("loop1", in_rootfs (&e, "loop2", p)) == 0);
  CHECK (symlink ("/made/by/link", in_rootfs (&e, "dangling", p)) == 0);
  int root = open (e.rootfs, O_PATH | O_DIRECTORY | O_CLOEXEC);
  CHECK (root >= 0);
  snprintf (want, sizeof (want), "%s/new/dir", e.outside);
  snprintf (host_new, sizeof (host_new), "%s/new", e.outside);
  snprintf (inside, sizeof (inside), "%s%s/new/dir", e.rootfs, e.outside);
  cleanup_free char *r1 = resolve (root, "/abs/new/dir", NS_CREATE_DIR, 0);
  /* the symlink was followed inside the root, never to the host */
  struct stat st;
  bool host_untouched = stat (host_new, &st) < 0 && errno == ENOENT;
  bool made_inside = stat (inside, &st) == 0 && S_ISDIR (st.st_mode);
  cleanup_free char *r2 = resolve (root, "/up/tmp/../bin//sh", NS_CREATE_NONE, 0);
  cleanup_free char *r3 = resolve (root, "/loop1", NS_CREATE_DIR, 0);
  cleanup_free char *r4 = resolve (root, "/bin/sh", NS_CREATE_NONE, NS_RESOLVE_NOFOLLOW_LAST);
  cleanup_free char *r5 = resolve (root, "/bin/sh/x", NS_CREATE_DIR, 0);
  cleanup_free char *r6 = resolve (root, "/nope/x", NS_CREATE_NONE, 0);
  /* a dangling symlink is created where it points, inside the root */
  cleanup_free char *r7 = resolve (root, "/dangling", NS_CREATE_FILE, 0);
  bool made_file = lstat (in_rootfs (&e, "made/by/link", p), &st) == 0 && S_ISREG (st.st_mode);
  close (root);
  env_cleanup (&e);
  CHECK_STR (r1, want);
  CHECK (host_untouched && made_inside);
  CHECK_STR (r2, "/bin/busybox");
  CHECK_CONTAINS (r3, "E40 `/loop");
  CHECK_CONTAINS (r3, "has too many levels of symlinks");
  CHECK_CONTAINS (r4, "`/bin/sh` is a symlink, refusing to use it");
  CHECK_CONTAINS (r5, "E20 `/bin/busybox` is not a directory");
  CHECK_CONTAINS (r6, "E2 `/nope`: No such file or directory");
  CHECK_STR (r7, "/made/by/link");
  CHECK (made_file);
}

static int
validate (struct cfg *f, char **msg)
{
  hull_error_t err = NULL;
  int r = ns_validate_mounts (&f->c, &err);
  *msg = r < 0 ? xstrdup (err->msg) : NULL;
  hull_error_release (&err);
  return r;
}

TEST (validate_accepts_runc_defaults)
{
  struct cfg f;
  cfg_init (&f);
  cfg_runc_defaults (&f, false);
  cfg_mount (&f, "/data", "bind", "/tmp", OPTS ("rbind", "rro", "rprivate", "nosuid", "x-gvfs-hide"));
  cfg_mount (&f, "/t", "tmpfs", "tmpfs", OPTS ("size=1m,mode=700", "context=\"a,b\"", "tmpcopyup"));
  cfg_device (&f, 'p', "/run/fifo", 0, 0);
  cfg_device (&f, 'c', "/dev/fuse", 10, 229);
  cleanup_free char *msg = NULL;
  CHECK (validate (&f, &msg) == 0);
}

TEST (validate_refuses_bad_mounts)
{
  struct
  {
    const char *dest, *type, *source;
    char **opts;
    const char *want;
  } cases[] = {
    { "tmp", "tmpfs", NULL, NULL, "mounts[1].destination: must be absolute, got `tmp`" },
    { NULL, "tmpfs", NULL, NULL, "mounts[1].destination: required" },
    { "/a/..", "tmpfs", NULL, NULL, "mounts[1].destination: cannot mount over the rootfs" },
    { "/x", NULL, NULL, OPTS ("ro"), "mounts[1].type: required unless options contain bind or rbind" },
    { "/x", "none", "/tmp", NULL, "mounts[1].type: required" },
    { "/x", NULL, NULL, OPTS ("rbind"), "mounts[1].source: required for a bind mount" },
    { "/x", "bind", "", NULL, "mounts[1].source: required for a bind mount" },
    { "/x", "tmpfs", NULL, OPTS ("ro", ""), "mounts[1].options[1]: empty option" },
    { "/x", "bind", "/tmp", OPTS ("rbind", "ro", "rslavee"),
      "mounts[1].options[2]: unknown option `rslavee`" },
    { "/x", "bind", "/tmp", OPTS ("bind", "idmap"), "mounts[1].options[1]: `idmap`: id-mapped mounts" },
    { "/x", "bind", "/tmp", OPTS ("bind", "tmpcopyup"), "mounts[1].options[1]: tmpcopyup needs a tmpfs" },
  };
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      struct cfg f;
      cfg_init (&f);
      cfg_mount (&f, "/proc", "proc", "proc", NULL);
      cfg_mount (&f, cases[i].dest, cases[i].type, cases[i].source, cases[i].opts);
      cleanup_free char *msg = NULL;
      CHECK (validate (&f, &msg) < 0);
      CHECK_CONTAINS (msg, cases[i].want);
    }
}

TEST (validate_refuses_bad_linux_paths)
{
  struct cfg f;
  cleanup_free char *msg = NULL;
  cfg_init (&f);
  f.l.masked_paths = OPTS ("/proc/kcore", "proc/keys");
  CHECK (validate (&f, &msg) < 0);
  CHECK_CONTAINS (msg, "linux.maskedPaths[1]: must be absolute, got `proc/keys`");
  free (steal_pointer (&msg));
  cfg_init (&f);
  f.l.readonly_paths = OPTS ("");
  CHECK (validate (&f, &msg) < 0);
  CHECK_CONTAINS (msg, "linux.readonlyPaths[0]: must be absolute");
  free (steal_pointer (&msg));
  cfg_init (&f);
  cfg_device (&f, 'c', "/dev/ok", 1, 3);
  cfg_device (&f, 'c', "dev/null", 1, 3);
  CHECK (validate (&f, &msg) < 0);
  CHECK_CONTAINS (msg, "linux.devices[1].path: must be absolute");
  free (steal_pointer (&msg));
  cfg_init (&f);
  cfg_device (&f, 'x', "/dev/x", 1, 3);
  CHECK (validate (&f, &msg) < 0);
  CHECK_CONTAINS (msg, "linux.devices[0].type");
  free (steal_pointer (&msg));
  cfg_init (&f);
  cfg_device (&f, 'c', "/", 1, 3);
  CHECK (validate (&f, &msg) < 0);
  CHECK_CONTAINS (msg, "linux.devices[0].path: must name a file");
}

/* uid=/gid= options name ids of a new user namespace: an unmapped one is
 * refused by name before the kernel answers a bare EINVAL. */
TEST (validate_refuses_unmapped_mount_ids)
{
  struct
  {
    uint32_t size;
    char **opts;
    const char *want;
  } cases[] = {
    { 1, OPTS ("newinstance", "gid=5"), "mounts[0].options[1]: `gid=5`: gid 5 is not mapped" },
    { 1, OPTS ("uid=1", "mode=0620"), "mounts[0].options[0]: `uid=1`: uid 1 is not mapped" },
    { 1, OPTS ("newinstance", "gid=0"), NULL },
    { 65536, OPTS ("newinstance", "gid=5"), NULL },
  };
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      struct cfg f;
      struct oci_process proc = { 0 };
      struct oci_namespace ns[] = { { OCI_NS_MOUNT, NULL }, { OCI_NS_USER, NULL } };
      struct oci_id_mapping map = { 0, 100000, cases[i].size };
      cfg_init (&f);
      f.c.process = &proc;
      f.l.namespaces = ns;
      f.l.n_namespaces = 2;
      f.l.uid_mappings = f.l.gid_mappings = &map;
      f.l.n_uid_mappings = f.l.n_gid_mappings = 1;
      cfg_mount (&f, "/dev/pts", "devpts", "devpts", cases[i].opts);
      hull_error_t err = NULL;
      int r = ns_validate_config (&f.c, &err);
      if (cases[i].want == NULL)
        CHECK (r == 0);
      else
        {
          CHECK (r < 0);
          CHECK_CONTAINS (err ? err->msg : "", cases[i].want);
        }
      hull_error_release (&err);
    }
}

RUN_TESTS ("ns_mounts")
