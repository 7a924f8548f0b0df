/* Unit tests for image/: the layer unpacker on tars built here with
 * libarchive's writer (every entry type, metadata, whiteouts, gzip and
 * zstd), the hostile-tar refusals (each checked to leave nothing outside the
 * layer), both digests and sha256 itself, the union lookup through layers,
 * and the runtime config made from an image config.  Needs root (owners, device nodes). */
#include "../../image/image-internal.h"
#include "unit.h"

#include <archive.h>
#include <archive_entry.h>
#include <dirent.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/xattr.h>

/* ---- building tars in memory ------------------------------------------------ */
struct tb
{
  struct archive *a;
  char *buf;
  size_t cap, used;
};

enum
{
  F_NONE,
  F_GZIP,
  F_ZSTD
};

static void
tb_begin (struct tb *t, int filter)
{
  t->a = archive_write_new ();
  archive_write_set_format_pax_restricted (t->a);
  if (filter == F_GZIP)
    archive_write_add_filter_gzip (t->a);
  if (filter == F_ZSTD)
    archive_write_add_filter_zstd (t->a);
  t->cap = 8 << 20;
  t->buf = xmalloc (t->cap);
  t->used = 0;
  archive_write_open_memory (t->a, t->buf, t->cap, &t->used);
}

struct ent
{
  const char *name;
  mode_t mode; /* type | perms */
  const char *data;
  const char *symlink, *hardlink;
  uid_t uid;
  gid_t gid;
  const char *xattr_name, *xattr_value;
  size_t xattr_len; /* for binary values; strlen when 0 */
  dev_t rdev;
  int64_t mtime;
};

static void
tb_add (struct tb *t, const struct ent *e)
{
  struct archive_entry *ae = archive_entry_new ();
  archive_entry_set_pathname (ae, e->name);
  archive_entry_set_mode (ae, e->mode);
  archive_entry_set_uid (ae, e->uid);
  archive_entry_set_gid (ae, e->gid);
  archive_entry_set_mtime (ae, e->mtime ? e->mtime : 1000000000, 0);
  if (e->symlink)
    archive_entry_set_symlink (ae, e->symlink);
  if (e->hardlink)
    archive_entry_set_hardlink (ae, e->hardlink);
  if (e->rdev)
    archive_entry_set_rdev (ae, e->rdev);
  if (e->xattr_name)
    archive_entry_xattr_add_entry (ae, e->xattr_name, e->xattr_value,
                                   e->xattr_len ? e->xattr_len : strlen (e->xattr_value));
  size_t len = e->data ? strlen (e->data) : 0;
  archive_entry_set_size (ae, S_ISREG (e->mode) && !e->hardlink ? (int64_t)len : 0);
  archive_write_header (t->a, ae);
  if (len && S_ISREG (e->mode) && !e->hardlink)
    archive_write_data (t->a, e->data, len);
  archive_entry_free (ae);
}

static void
tb_end (struct tb *t)
{
  archive_write_close (t->a);
  archive_write_free (t->a);
}

struct mem
{
  const char *p;
  size_t len, off;
};

static ssize_t
mem_read (void *data, void *buf, size_t len)
{
  struct mem *m = data;
  size_t n = m->len - m->off < len ? m->len - m->off : len;
  memcpy (buf, m->p + m->off, n);
  m->off += n;
  return (ssize_t)n;
}

/* ---- a scratch area: DIR/layer is unpacked into, DIR/outside must stay empty */
struct area
{
  char dir[64];
  int layer_fd;
};

static void
area_new (struct area *ar)
{
  strcpy (ar->dir, "/tmp/hull-test-image.XXXXXX");
  if (mkdtemp (ar->dir) == NULL)
    abort ();
  char p[128];
  snprintf (p, sizeof (p), "%s/layer", ar->dir);
  mkdir (p, 0755);
  snprintf (p, sizeof (p), "%s/outside", ar->dir);
  mkdir (p, 0755);
  snprintf (p, sizeof (p), "%s/layer", ar->dir);
  ar->layer_fd = open (p, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
}

static int
count_entries (const char *path)
{
  DIR *d = opendir (path);
  int n = 0;
  struct dirent *de;
  while (d && (de = readdir (d)))
    n += strcmp (de->d_name, ".") && strcmp (de->d_name, "..");
  if (d)
    closedir (d);
  return n;
}

static bool
area_outside_clean (struct area *ar)
{
  char p[128];
  snprintf (p, sizeof (p), "%s/outside", ar->dir);
  /* the area itself holds only layer/ and outside/ */
  return count_entries (p) == 0 && count_entries (ar->dir) == 2;
}

static void
area_free (struct area *ar)
{
  close (ar->layer_fd);
  hull_error_t e = NULL;
  hull_rm_rf_at (AT_FDCWD, ar->dir, &e);
  hull_error_release (&e);
}

static int
unpack (struct area *ar, struct tb *t, struct img_unpack_opts *o, struct img_unpack_result *res,
        hull_error_t *err)
{
  struct img_unpack_opts def = { .what = "layer test" };
  if (o == NULL)
    {
      img_limits_default (&def.limits);
      o = &def;
    }
  struct mem m = { t->buf, t->used, 0 };
  return img_unpack_layer (ar->layer_fd, mem_read, &m, o, res, err);
}

/* Unpacks entries and expects a refusal whose message holds `why`, with
 * nothing written outside the layer. */
static int
expect_refusal (const struct ent *ents, size_t n, const char *why, char **msg)
{
  struct area ar;
  struct tb t;
  area_new (&ar);
  tb_begin (&t, F_NONE);
  for (size_t i = 0; i < n; i++)
    tb_add (&t, &ents[i]);
  tb_end (&t);
  struct img_unpack_result res;
  hull_error_t err = NULL;
  int r = unpack (&ar, &t, NULL, &res, &err);
  bool clean = area_outside_clean (&ar);
  *msg = err ? xstrdup (err->msg) : xstrdup ("(no error)");
  if (r == 0)
    img_unpack_result_release (&res);
  hull_error_release (&err);
  free (t.buf);
  area_free (&ar);
  if (r == 0 || !clean)
    return -1;
  return strstr (*msg, why) ? 0 : -1;
}

#define REG(n, d)                                                                                            \
  {                                                                                                          \
    .name = (n), .mode = S_IFREG | 0644, .data = (d)                                                         \
  }
#define DIRE(n)                                                                                              \
  {                                                                                                          \
    .name = (n), .mode = S_IFDIR | 0755                                                                      \
  }
#define SYM(n, t)                                                                                            \
  {                                                                                                          \
    .name = (n), .mode = S_IFLNK | 0777, .symlink = (t)                                                      \
  }
#define HARD(n, t)                                                                                           \
  {                                                                                                          \
    .name = (n), .mode = S_IFREG | 0644, .hardlink = (t)                                                     \
  }

#define REFUSED(why, ...)                                                                                    \
  do                                                                                                         \
    {                                                                                                        \
      const struct ent e_[] = { __VA_ARGS__ };                                                               \
      char *m_ = NULL;                                                                                       \
      int r_ = expect_refusal (e_, sizeof (e_) / sizeof (e_[0]), (why), &m_);                                \
      if (r_ < 0)                                                                                            \
        fprintf (stderr, "  refusal message: %s\n", m_);                                                     \
      free (m_);                                                                                             \
      CHECK (r_ == 0);                                                                                       \
    }                                                                                                        \
  while (0)

TEST (every_entry_type_and_metadata)
{
  struct area ar;
  struct tb t;
  area_new (&ar);
  tb_begin (&t, F_GZIP);
  const struct ent ents[] = {
    { .name = "./", .mode = S_IFDIR | 0751, .mtime = 1234 },
    DIRE ("etc"),
    { .name = "etc/passwd", .mode = S_IFREG | 0600, .data = "root:x:0:0::/:/bin/sh\n", .uid = 7, .gid = 8 },
    { .name = "bin/su", .mode = S_IFREG | 04755, .data = "ELF", .uid = 0, .gid = 0 },
    { .name = "bin/sg", .mode = S_IFREG | 02711, .data = "ELF", .gid = 5 },
    { .name = "tmp", .mode = S_IFDIR | 01777, .mtime = 42 },
    SYM ("etc/link", "/etc/passwd"),
    HARD ("etc/passwd2", "etc/passwd"),
    { .name = "dev/null", .mode = S_IFCHR | 0666, .rdev = makedev (1, 3) },
    { .name = "dev/sda", .mode = S_IFBLK | 0660, .rdev = makedev (8, 0) },
    { .name = "run/fifo", .mode = S_IFIFO | 0620 },
    { .name = "x", .mode = S_IFREG | 0644, .data = "x", .xattr_name = "user.test", .xattr_value = "v1" },
    { .name = "cap",
      .mode = S_IFREG | 0755,
      .data = "c",
      .xattr_name = "security.capability",
      .xattr_value = "\x01\x00\x00\x02\x00\x04\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00",
      .xattr_len = 20 },
  };
  for (size_t i = 0; i < sizeof (ents) / sizeof (ents[0]); i++)
    tb_add (&t, &ents[i]);
  tb_end (&t);
  struct img_unpack_result res;
  hull_error_t err = NULL;
  int r = unpack (&ar, &t, NULL, &res, &err);
  if (r < 0)
    fprintf (stderr, "  %s\n", err->msg);
  CHECK (r == 0);
  CHECK (res.entries == sizeof (ents) / sizeof (ents[0]));
  char want[IMG_DIGEST_LEN];
  img_sha256_buf (t.buf, t.used, want);
  CHECK_STR (res.digest, want);
  CHECK (strcmp (res.digest, res.diff_id) != 0); /* gzip: the tar's digest differs */
  img_unpack_result_release (&res);
  free (t.buf);
  struct stat st;
  CHECK (fstat (ar.layer_fd, &st) == 0 && (st.st_mode & 07777) == 0751 && st.st_mtime == 1234);
  CHECK (fstatat (ar.layer_fd, "etc/passwd", &st, AT_SYMLINK_NOFOLLOW) == 0);
  CHECK ((st.st_mode & 07777) == 0600 && st.st_uid == 7 && st.st_gid == 8 && st.st_nlink == 2);
  CHECK (st.st_mtime == 1000000000);
  CHECK (fstatat (ar.layer_fd, "bin/su", &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & 07777) == 04755);
  CHECK (fstatat (ar.layer_fd, "bin/sg", &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & 07777) == 02711);
  CHECK (st.st_gid == 5);
  CHECK (fstatat (ar.layer_fd, "tmp", &st, AT_SYMLINK_NOFOLLOW) == 0 && (st.st_mode & 07777) == 01777);
  CHECK (st.st_mtime == 42);
  char buf[64] = "";
  CHECK (readlinkat (ar.layer_fd, "etc/link", buf, sizeof (buf)) == 11
         && memcmp (buf, "/etc/passwd", 11) == 0);
  CHECK (fstatat (ar.layer_fd, "dev/null", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISCHR (st.st_mode));
  CHECK (st.st_rdev == makedev (1, 3) && (st.st_mode & 0777) == 0666);
  CHECK (fstatat (ar.layer_fd, "dev/sda", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISBLK (st.st_mode));
  CHECK (fstatat (ar.layer_fd, "run/fifo", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISFIFO (st.st_mode));
  CHECK ((st.st_mode & 0777) == 0620);
  int fd = openat (ar.layer_fd, "x", O_RDONLY | O_CLOEXEC);
  CHECK (fd >= 0);
  ssize_t n = fgetxattr (fd, "user.test", buf, sizeof (buf));
  close (fd);
  CHECK (n == 2 && memcmp (buf, "v1", 2) == 0);
  fd = openat (ar.layer_fd, "cap", O_RDONLY | O_CLOEXEC);
  n = fgetxattr (fd, "security.capability", buf, sizeof (buf));
  close (fd);
  CHECK (n == 20);
  CHECK (area_outside_clean (&ar));
  area_free (&ar);
}

TEST (whiteouts_and_opaque_dirs)
{
  struct area ar;
  struct tb t;
  area_new (&ar);
  tb_begin (&t, F_ZSTD);
  const struct ent ents[] = {
    DIRE ("etc"),
    REG ("etc/.wh.shadow", ""),
    DIRE ("var/lib"),
    REG ("var/lib/.wh..wh..opq", ""),
    REG ("var/lib/new", "n"),
    REG (".wh..wh.plnk", ""),
    REG ("keep", "k"),
    REG (".wh.keep", ""),
    REG (".wh.later", ""),
    REG ("later", "l"),
  };
  for (size_t i = 0; i < sizeof (ents) / sizeof (ents[0]); i++)
    tb_add (&t, &ents[i]);
  tb_end (&t);
  struct img_unpack_result res;
  hull_error_t err = NULL;
  int r = unpack (&ar, &t, NULL, &res, &err);
  if (r < 0)
    fprintf (stderr, "  %s\n", err->msg);
  CHECK (r == 0);
  img_unpack_result_release (&res);
  free (t.buf);
  struct stat st;
  CHECK (fstatat (ar.layer_fd, "etc/shadow", &st, AT_SYMLINK_NOFOLLOW) == 0);
  CHECK (S_ISCHR (st.st_mode) && st.st_rdev == makedev (0, 0));
  CHECK (fstatat (ar.layer_fd, "etc/.wh.shadow", &st, AT_SYMLINK_NOFOLLOW) < 0);
  int fd = openat (ar.layer_fd, "var/lib", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  char v = 0;
  CHECK (fd >= 0 && fgetxattr (fd, "trusted.overlay.opaque", &v, 1) == 1 && v == 'y');
  close (fd);
  CHECK (faccessat (ar.layer_fd, "var/lib/.wh..wh..opq", F_OK, AT_SYMLINK_NOFOLLOW) < 0);
  CHECK (faccessat (ar.layer_fd, "var/lib/new", F_OK, 0) == 0);
  CHECK (faccessat (ar.layer_fd, ".wh..wh.plnk", F_OK, AT_SYMLINK_NOFOLLOW) < 0);
  /* this layer's own file survives its whiteout; a later file replaces one */
  CHECK (fstatat (ar.layer_fd, "keep", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG (st.st_mode));
  CHECK (fstatat (ar.layer_fd, "later", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG (st.st_mode));
  area_free (&ar);
}

TEST (later_entries_replace_earlier_ones)
{
  struct area ar;
  struct tb t;
  area_new (&ar);
  tb_begin (&t, F_NONE);
  const struct ent ents[] = {
    REG ("a", "first"), REG ("a", "second"), DIRE ("d"), REG ("d/f", "f"),
    SYM ("d", "a"),     SYM ("s", "a"),      DIRE ("s"), REG ("s/x", "x"),
  };
  for (size_t i = 0; i < sizeof (ents) / sizeof (ents[0]); i++)
    tb_add (&t, &ents[i]);
  tb_end (&t);
  struct img_unpack_result res;
  hull_error_t err = NULL;
  int r = unpack (&ar, &t, NULL, &res, &err);
  if (r < 0)
    fprintf (stderr, "  %s\n", err->msg);
  CHECK (r == 0);
  img_unpack_result_release (&res);
  free (t.buf);
  char buf[16] = "";
  int fd = openat (ar.layer_fd, "a", O_RDONLY | O_CLOEXEC);
  CHECK (fd >= 0 && read (fd, buf, sizeof (buf)) == 6 && memcmp (buf, "second", 6) == 0);
  close (fd);
  struct stat st;
  CHECK (fstatat (ar.layer_fd, "d", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISLNK (st.st_mode));
  CHECK (fstatat (ar.layer_fd, "s/x", &st, AT_SYMLINK_NOFOLLOW) == 0 && S_ISREG (st.st_mode));
  area_free (&ar);
}

TEST (names_are_normalised)
{
  const char *why;
  char *out = NULL;
  CHECK (img_normalize_name ("./a//b/./c/", &out, &why) == 0);
  CHECK_STR (out, "a/b/c");
  free (out);
  CHECK (img_normalize_name ("./", &out, &why) == 0);
  CHECK_STR (out, "");
  free (out);
  CHECK (img_normalize_name ("a/../b", &out, &why) < 0);
  CHECK_CONTAINS (why, "..");
  CHECK (img_normalize_name ("/etc/passwd", &out, &why) < 0);
  CHECK_CONTAINS (why, "absolute");
  CHECK (img_normalize_name ("..", &out, &why) < 0);
  CHECK (img_normalize_name ("a/..b/c..", &out, &why) == 0);
  CHECK_STR (out, "a/..b/c..");
  free (out);
}

TEST (hostile_dotdot_and_absolute)
{
  REFUSED ("`..`", REG ("../outside/x", "x"));
  REFUSED ("`..`", DIRE ("a"), REG ("a/../../outside/x", "x"));
  REFUSED ("absolute", REG ("/tmp/hull-abs-escape", "x"));
  REFUSED ("`..`", SYM ("../outside/l", "x"));
  REFUSED ("`..`", { .name = "../outside/d", .mode = S_IFCHR | 0600, .rdev = makedev (1, 3) });
}

TEST (hostile_symlink_escapes)
{
  /* a symlink placed earlier in the same layer, then written through */
  REFUSED ("symlink", SYM ("a", "../outside"), REG ("a/x", "x"));
  REFUSED ("symlink", SYM ("a", "/tmp"), REG ("a/hull-escape", "x"));
  REFUSED ("symlink", SYM ("a", "."), REG ("a/x", "x"));
  REFUSED ("symlink", SYM ("a", "../outside"), DIRE ("a/d"));
  REFUSED ("symlink", SYM ("a", "../outside"), SYM ("a/l", "/"));
  REFUSED ("symlink", DIRE ("d"), SYM ("d/up", ".."), SYM ("d/up2", "up/.."), REG ("d/up2/outside/x", "x"));
}

TEST (hostile_hardlink_escapes)
{
  REFUSED ("`..`", HARD ("h", "../outside/x"));
  REFUSED ("absolute", HARD ("h", "/etc/passwd"));
  REFUSED ("symlink", SYM ("a", "/etc"), HARD ("h", "a/passwd"));
  REFUSED ("symlink", SYM ("a", "../outside"), REG ("b", "b"), HARD ("a/h", "b"));
  REFUSED ("directory", DIRE ("d"), HARD ("h", "d"));
  REFUSED ("whiteout", REG (".wh.gone", ""), HARD ("h", "gone"));
}

TEST (hostile_whiteouts)
{
  REFUSED ("`..`", REG ("../outside/.wh.x", ""));
  REFUSED ("absolute", REG ("/etc/.wh.passwd", ""));
  REFUSED ("symlink", SYM ("l", "/etc"), REG ("l/.wh.passwd", ""));
  REFUSED ("symlink", SYM ("l", "../outside"), REG ("l/.wh..wh..opq", ""));
  REFUSED ("whiteout of", REG (".wh...", ""));
  REFUSED ("whiteout of", REG ("d/.wh.", ""));
}

TEST (hostile_xattrs_and_types)
{
  REFUSED (
      "overlayfs",
      { .name = "d", .mode = S_IFDIR | 0755, .xattr_name = "trusted.overlay.opaque", .xattr_value = "y" });
  REFUSED ("overlayfs", { .name = "f",
                          .mode = S_IFREG | 0644,
                          .data = "x",
                          .xattr_name = "trusted.overlay.redirect",
                          .xattr_value = "/etc" });
  REFUSED ("refused", REG ("./", "x"));
  REFUSED ("root must be a directory", SYM (".", "/"));
}

TEST (tar_bomb_entries)
{
  struct area ar;
  struct tb t;
  area_new (&ar);
  tb_begin (&t, F_GZIP);
  char name[32];
  for (int i = 0; i < 101; i++)
    {
      snprintf (name, sizeof (name), "f%d", i);
      const struct ent e = REG (name, "");
      tb_add (&t, &e);
    }
  tb_end (&t);
  struct img_unpack_opts o = { .what = "layer bomb", .limits = { .max_entries = 100, .max_bytes = 1 << 20 } };
  struct img_unpack_result res;
  hull_error_t err = NULL;
  CHECK (unpack (&ar, &t, &o, &res, &err) < 0);
  CHECK_CONTAINS (err->msg, "more than 100 entries");
  hull_error_release (&err);
  free (t.buf);
  area_free (&ar);
}

/* A ustar header claiming a huge (sparse-like) file, with no data after it. */
static size_t
huge_header (char *blk, const char *size_octal)
{
  memset (blk, 0, 2048);
  strcpy (blk, "huge");
  strcpy (blk + 100, "0000644");
  strcpy (blk + 108, "0000000");
  strcpy (blk + 116, "0000000");
  memcpy (blk + 124, size_octal, 11);
  strcpy (blk + 136, "00000000000");
  blk[156] = '0';
  memcpy (blk + 257, "ustar", 6);
  memcpy (blk + 263, "00", 2);
  memset (blk + 148, ' ', 8);
  unsigned sum = 0;
  for (int i = 0; i < 512; i++)
    sum += (unsigned char)blk[i];
  snprintf (blk + 148, 8, "%06o", sum);
  return 2048;
}

TEST (tar_bomb_bytes)
{
  struct area ar;
  area_new (&ar);
  char blk[2048];
  size_t n = huge_header (blk, "77777777777"); /* 8 GiB - 1 */
  struct mem m = { blk, n, 0 };
  struct img_unpack_opts o = { .what = "layer bomb", .limits = { .max_entries = 100, .max_bytes = 1 << 20 } };
  struct img_unpack_result res;
  hull_error_t err = NULL;
  CHECK (img_unpack_layer (ar.layer_fd, mem_read, &m, &o, &res, &err) < 0);
  CHECK_CONTAINS (err->msg, "tar bomb");
  hull_error_release (&err);
  CHECK (count_entries (ar.dir) == 2);
  char p[128];
  snprintf (p, sizeof (p), "%s/layer", ar.dir);
  CHECK (count_entries (p) == 0); /* refused before a byte was written */
  area_free (&ar);
}

TEST (truncated_and_corrupt)
{
  struct area ar;
  struct tb t;
  area_new (&ar);
  tb_begin (&t, F_GZIP);
  char big[8192];
  memset (big, 'z', sizeof (big) - 1);
  big[sizeof (big) - 1] = '\0';
  const struct ent e = REG ("big", big);
  tb_add (&t, &e);
  tb_end (&t);
  struct img_unpack_result res;
  hull_error_t err = NULL;
  size_t full = t.used;
  t.used = full / 2; /* truncated */
  CHECK (unpack (&ar, &t, NULL, &res, &err) < 0);
  CHECK (err && err->msg[0]);
  hull_error_release (&err);
  t.used = full;
  t.buf[full / 2] ^= 0x55; /* corrupt deflate data */
  t.buf[full / 2 + 1] ^= 0x55;
  area_free (&ar);
  area_new (&ar);
  CHECK (unpack (&ar, &t, NULL, &res, &err) < 0);
  hull_error_release (&err);
  /* not an archive at all */
  struct mem m = { "this is not a tar file, not even close............", 50, 0 };
  struct img_unpack_opts o = { .what = "layer junk" };
  img_limits_default (&o.limits);
  CHECK (img_unpack_layer (ar.layer_fd, mem_read, &m, &o, &res, &err) < 0);
  CHECK_CONTAINS (err->msg, "layer junk");
  hull_error_release (&err);
  free (t.buf);
  area_free (&ar);
}

/* ---- union lookup and the runtime config -------------------------------------- */

static void
put (int dfd, const char *path, const char *data)
{
  cleanup_free char *copy = xstrdup (path);
  for (char *p = copy; (p = strchr (p, '/')); *p++ = '/')
    {
      *p = '\0';
      mkdirat (dfd, copy, 0755);
    }
  int fd = openat (dfd, path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd >= 0)
    {
      hull_write_all (fd, data, strlen (data));
      close (fd);
    }
}

static int
read_union (const int *fds, size_t n, const char *path, char *buf, size_t len)
{
  hull_error_t err = NULL;
  int fd = img_union_open (fds, n, path, &err);
  if (fd < 0)
    {
      int status = err->status;
      hull_error_release (&err);
      return -status;
    }
  ssize_t r = read (fd, buf, len - 1);
  close (fd);
  buf[r < 0 ? 0 : r] = '\0';
  return 0;
}

TEST (union_lookup_through_layers)
{
  struct area a, b;
  area_new (&a); /* bottom */
  area_new (&b); /* top */
  put (a.layer_fd, "etc/passwd", "bottom");
  put (a.layer_fd, "etc/group", "bottom-group");
  put (a.layer_fd, "usr/lib/os-release", "debian");
  put (a.layer_fd, "opq/old", "old");
  symlinkat ("usr/lib/os-release", a.layer_fd, "os");
  symlinkat ("../../../../usr/lib/os-release", a.layer_fd, "etc/up");
  put (b.layer_fd, "etc/passwd", "top");
  mknodat (b.layer_fd, "etc/group", S_IFCHR, makedev (0, 0));
  mkdirat (b.layer_fd, "opq", 0755);
  int ofd = openat (b.layer_fd, "opq", O_RDONLY | O_DIRECTORY);
  fsetxattr (ofd, "trusted.overlay.opaque", "y", 1, 0);
  close (ofd);
  int fds[2] = { b.layer_fd, a.layer_fd };
  char buf[64];
  CHECK (read_union (fds, 2, "/etc/passwd", buf, sizeof (buf)) == 0);
  CHECK_STR (buf, "top");
  CHECK (read_union (fds, 2, "/etc/group", buf, sizeof (buf)) == -ENOENT);
  CHECK (read_union (fds, 2, "/os", buf, sizeof (buf)) == 0);
  CHECK_STR (buf, "debian");
  CHECK (read_union (fds, 2, "/etc/up", buf, sizeof (buf)) == 0); /* `..` stops at the image's root */
  CHECK_STR (buf, "debian");
  CHECK (read_union (fds, 2, "/opq/old", buf, sizeof (buf)) == -ENOENT);
  CHECK (read_union (fds + 1, 1, "/opq/old", buf, sizeof (buf)) == 0);
  CHECK (read_union (fds, 2, "/etc/passwd/x", buf, sizeof (buf)) == -ENOTDIR);
  symlinkat ("/loop", b.layer_fd, "loop");
  CHECK (read_union (fds, 2, "/loop", buf, sizeof (buf)) == -ELOOP);
  CHECK (read_union (fds, 2, "/etc", buf, sizeof (buf)) == -EISDIR);
  hull_error_t err = NULL;
  int dfd = img_union_open_any (fds, 2, "/usr/lib", &err);
  struct stat st;
  CHECK (dfd >= 0 && fstat (dfd, &st) == 0 && S_ISDIR (st.st_mode));
  close (dfd);
  dfd = img_union_open_any (fds, 2, "/", &err);
  struct stat top;
  CHECK (dfd >= 0 && fstat (dfd, &st) == 0 && fstat (b.layer_fd, &top) == 0 && st.st_ino == top.st_ino);
  close (dfd);
  area_free (&a);
  area_free (&b);
}

TEST (runtime_config_from_image_config)
{
  struct area a;
  area_new (&a);
  put (a.layer_fd, "etc/passwd", "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1001::/home/app:/bin/sh\n");
  put (a.layer_fd, "etc/group", "root:x:0:\napp:x:1001:\nwheel:x:10:app,other\naudio:x:29:other\n");
  const char *cfg_json
      = "{\"architecture\":\"amd64\",\"os\":\"linux\",\"created\":\"2024-01-01T00:00:00Z\","
        "\"config\":{\"User\":\"app\",\"Env\":[\"A=1\"],\"Entrypoint\":[\"/bin/app\"],\"Cmd\":[\"--flag\"],"
        "\"WorkingDir\":\"/srv\",\"Labels\":{\"com.example.x\":\"y\"},\"ExposedPorts\":{\"80/tcp\":{}},"
        "\"StopSignal\":\"SIGTERM\"},\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
  hull_error_t err = NULL;
  struct oci_config *c = img_runtime_config (cfg_json, strlen (cfg_json), &a.layer_fd, 1, &err);
  if (c == NULL)
    fprintf (stderr, "  %s\n", err->msg);
  CHECK (c != NULL);
  CHECK (c->process->terminal == false && c->root->readonly == false);
  CHECK_STR (c->process->args[0], "/bin/app");
  CHECK_STR (c->process->args[1], "--flag");
  CHECK (c->process->args[2] == NULL);
  CHECK (hull_str_has_prefix (c->process->env[0], "PATH="));
  CHECK_STR (c->process->env[1], "A=1");
  CHECK_STR (c->process->cwd, "/srv");
  CHECK (c->process->user.uid == 1000 && c->process->user.gid == 1001);
  CHECK (c->process->user.n_additional_gids == 1 && c->process->user.additional_gids[0] == 10);
  CHECK_STR (oci_kvs_get (&c->annotations, "com.example.x"), "y");
  CHECK_STR (oci_kvs_get (&c->annotations, "org.opencontainers.image.exposedPorts"), "80/tcp");
  CHECK_STR (oci_kvs_get (&c->annotations, "org.opencontainers.image.stopSignal"), "SIGTERM");
  oci_config_free (c);
  const char *numeric = "{\"config\":{\"User\":\"4242:wheel\"}}";
  c = img_runtime_config (numeric, strlen (numeric), &a.layer_fd, 1, &err);
  CHECK (c != NULL && c->process->user.uid == 4242 && c->process->user.gid == 10);
  CHECK_STR (c->process->args[0], "sh"); /* no Entrypoint/Cmd: the default */
  oci_config_free (c);
  const char *missing = "{\"config\":{\"User\":\"nobody\"}}";
  c = img_runtime_config (missing, strlen (missing), &a.layer_fd, 1, &err);
  CHECK (c == NULL);
  CHECK_CONTAINS (err->msg, "no such user");
  hull_error_release (&err);
  area_free (&a);
}

/* ---- sha256 ----------------------------------------------------------------- */
/* FIPS 180-4's examples and a long message, with the CPU's SHA instructions
 * (when it has them) and with the portable code. */
TEST (sha256_known_answers)
{
  static const struct
  {
    const char *msg;
    const char *hex;
  } v[] = {
    { "", "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855" },
    { "abc", "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad" },
    { "abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq",
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1" },
    { "abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqrlmnopqrsmnopqr"
      "s"
      "tnopqrstu",
      "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1" },
  };
  char a[1000], out[IMG_DIGEST_LEN], want[IMG_DIGEST_LEN];
  memset (a, 'a', sizeof (a));
  for (int portable = 0; portable < 2; portable++)
    {
      img_sha256_force_portable (portable);
      for (size_t i = 0; i < sizeof (v) / sizeof (v[0]); i++)
        {
          img_sha256_buf (v[i].msg, strlen (v[i].msg), out);
          snprintf (want, sizeof (want), "sha256:%s", v[i].hex);
          CHECK_STR (out, want);
        }
      struct img_sha256 h;
      img_sha256_init (&h);
      for (int i = 0; i < 1000; i++)
        img_sha256_update (&h, a, sizeof (a));
      img_sha256_final (&h, out);
      CHECK_STR (out, "sha256:cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
    }
  img_sha256_force_portable (false);
}

/* Every length up to a few blocks, hashed in one piece, in uneven pieces and
 * by the portable code, gives one digest; and a known one at 5000 bytes
 * (Python's hashlib). */
TEST (sha256_pieces)
{
  unsigned char buf[5000];
  for (size_t i = 0; i < sizeof (buf); i++)
    buf[i] = (unsigned char)(i * 7 + (i >> 5));
  for (size_t len = 0; len <= 300; len++)
    {
      char one[IMG_DIGEST_LEN], pieces[IMG_DIGEST_LEN], portable[IMG_DIGEST_LEN];
      img_sha256_force_portable (false);
      img_sha256_buf (buf, len, one);
      struct img_sha256 h;
      img_sha256_init (&h);
      for (size_t off = 0, step = 1; off < len; off += step, step = step * 3 % 71 + 1)
        img_sha256_update (&h, buf + off, step < len - off ? step : len - off);
      img_sha256_final (&h, pieces);
      img_sha256_force_portable (true);
      img_sha256_buf (buf, len, portable);
      img_sha256_force_portable (false);
      CHECK_STR (pieces, one);
      CHECK_STR (portable, one);
    }
  char out[IMG_DIGEST_LEN];
  img_sha256_buf (buf, sizeof (buf), out);
  CHECK_STR (out, "sha256:b6e93a4006eab0525765da078d1ba061ac1cb1e36b8cc6f92a23cc2253543ec9");
}

TEST (config_checks)
{
  cleanup_json yajl_val v = NULL;
  hull_error_t err = NULL;
  const char *arm
      = "{\"os\":\"linux\",\"architecture\":\"arm64\",\"rootfs\":{\"type\":\"layers\",\"diff_ids\":[]}}";
  const char **ids = NULL;
  CHECK (img_json_parse (arm, strlen (arm), "c", &v, &err) == 0);
  CHECK (img_config_check (v, 0, &ids, &err) < 0);
  CHECK_CONTAINS (err->msg, "linux/arm64");
  hull_error_release (&err);
  char deep[200];
  memset (deep, '[', sizeof (deep));
  CHECK (img_json_parse (deep, sizeof (deep), "deep", &v, &err) < 0);
  CHECK_CONTAINS (err->msg, "nested deeper");
  hull_error_release (&err);
  CHECK (img_digest_valid ("sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"));
  CHECK (!img_digest_valid ("sha256:E3B0C44298FC1C149AFBF4C8996FB92427AE41E4649B934CA495991B7852B855"));
  CHECK (!img_digest_valid ("sha512:e3b0"));
  CHECK (img_digest_check ("sha512:abcd", "x", &err) < 0);
  CHECK_CONTAINS (err->msg, "only sha256");
  hull_error_release (&err);
}

RUN_TESTS ("image")
