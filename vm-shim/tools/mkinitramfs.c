/* mkinitramfs: writes a cpio "newc" archive (what Linux unpacks as an
 * initramfs) from a list of entries on stdin, to stdout.  Every entry is
 * owned by root with mtime 0, so the archive depends only on its inputs
 * and building it needs no root (no mknod on the build machine).
 *
 *   dir   PATH MODE
 *   file  PATH MODE SOURCE
 *   slink PATH TARGET
 *   nod   PATH MODE c|b MAJOR MINOR
 *
 * MODE is octal; PATH is absolute in the guest.  Lines starting with '#'
 * and empty lines are skipped.  Used by vm-shim/vm-shim.mk for the guest's
 * initramfs (vm-shim/guest/initramfs.sh writes the list). */
#include "../../common/common.h"

#include <archive.h>
#include <archive_entry.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>

static void __attribute__ ((noreturn))
die (unsigned line, const char *fmt, ...)
{
  va_list ap;
  va_start (ap, fmt);
  fprintf (stderr, "mkinitramfs: line %u: ", line);
  vfprintf (stderr, fmt, ap);
  fputc ('\n', stderr);
  va_end (ap);
  exit (1);
}

static unsigned
parse_mode (unsigned line, const char *s)
{
  char *end;
  unsigned long m = s ? strtoul (s, &end, 8) : 0;
  if (s == NULL || *end || m > 07777)
    die (line, "bad mode `%s`", s ? s : "");
  return (unsigned)m;
}

static void
write_entry (struct archive *a, struct archive_entry *e, const char *data, size_t len, unsigned line)
{
  if (archive_write_header (a, e) != ARCHIVE_OK)
    die (line, "%s", archive_error_string (a));
  if (len > 0 && archive_write_data (a, data, len) != (la_ssize_t)len)
    die (line, "%s", archive_error_string (a));
}

int
main (int argc, char **argv)
{
  (void)argv;
  if (argc != 1)
    {
      fprintf (stderr, "usage: mkinitramfs < LIST > initramfs.cpio\n");
      return 2;
    }
  struct archive *a = archive_write_new ();
  if (archive_write_set_format_cpio_newc (a) != ARCHIVE_OK || archive_write_open_FILE (a, stdout) != ARCHIVE_OK)
    die (0, "%s", archive_error_string (a));
  char *buf = NULL;
  size_t cap = 0;
  unsigned line = 0;
  while (getline (&buf, &cap, stdin) > 0)
    {
      line++;
      buf[strcspn (buf, "\n")] = '\0';
      char *save = NULL, *kind = strtok_r (buf, " \t", &save);
      if (kind == NULL || kind[0] == '#')
        continue;
      char *path = strtok_r (NULL, " \t", &save);
      if (path == NULL || path[0] != '/' || path[1] == '\0')
        die (line, "`%s` needs an absolute path", kind);
      struct archive_entry *e = archive_entry_new ();
      archive_entry_set_pathname (e, path + 1);
      archive_entry_set_uid (e, 0);
      archive_entry_set_gid (e, 0);
      archive_entry_set_mtime (e, 0, 0);
      archive_entry_set_nlink (e, 1);
      archive_entry_set_size (e, 0);
      cleanup_free char *data = NULL;
      size_t len = 0;
      if (strcmp (kind, "dir") == 0)
        {
          archive_entry_set_mode (e, AE_IFDIR | parse_mode (line, strtok_r (NULL, " \t", &save)));
          archive_entry_set_nlink (e, 2);
        }
      else if (strcmp (kind, "file") == 0)
        {
          archive_entry_set_mode (e, AE_IFREG | parse_mode (line, strtok_r (NULL, " \t", &save)));
          const char *src = strtok_r (NULL, " \t", &save);
          hull_error_t err = NULL;
          if (src == NULL)
            die (line, "file %s: no source", path);
          if (hull_read_file_at (AT_FDCWD, src, 256 << 20, &data, &len, &err) < 0)
            die (line, "%s", err->msg);
          archive_entry_set_size (e, (la_int64_t)len);
        }
      else if (strcmp (kind, "slink") == 0)
        {
          const char *target = strtok_r (NULL, " \t", &save);
          if (target == NULL)
            die (line, "slink %s: no target", path);
          archive_entry_set_mode (e, AE_IFLNK | 0777);
          archive_entry_set_symlink (e, target);
        }
      else if (strcmp (kind, "nod") == 0)
        {
          unsigned mode = parse_mode (line, strtok_r (NULL, " \t", &save));
          const char *type = strtok_r (NULL, " \t", &save);
          const char *maj = strtok_r (NULL, " \t", &save), *min = strtok_r (NULL, " \t", &save);
          uint64_t ma, mi;
          if (type == NULL || (strcmp (type, "c") && strcmp (type, "b")) || maj == NULL || min == NULL
              || hull_parse_u64 (maj, &ma) < 0 || hull_parse_u64 (min, &mi) < 0 || ma > 4095 || mi > 0xfffff)
            die (line, "nod %s: expected `c|b MAJOR MINOR`", path);
          archive_entry_set_mode (e, (type[0] == 'c' ? AE_IFCHR : AE_IFBLK) | mode);
          archive_entry_set_rdev (e, makedev ((unsigned)ma, (unsigned)mi));
        }
      else
        die (line, "unknown entry kind `%s`", kind);
      if (strtok_r (NULL, " \t", &save) != NULL)
        die (line, "trailing words");
      write_entry (a, e, data, len, line);
      archive_entry_free (e);
    }
  free (buf);
  if (archive_write_close (a) != ARCHIVE_OK)
    die (line, "%s", archive_error_string (a));
  archive_write_free (a);
  return 0;
}
