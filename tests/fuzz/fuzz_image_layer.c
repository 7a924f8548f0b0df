// libFuzzer target for the layer unpacker (image/unpack.c, image/entry.c):
// each input is a layer blob (tar, gzip or zstd), unpacked into a fresh
// temporary directory next to an `outside` sentinel directory, which must
// stay empty (nothing may land outside the layer); then both are removed.
// Small limits keep each run fast.
//   make fuzz-bins && build-fuzz/fuzz_image_layer tests/fuzz/corpus/image_layer
#include "../../image/image.h"

#include <dirent.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

struct mem
{
  const uint8_t *p;
  size_t len, off;
};

static ssize_t
mem_read (void *d, void *buf, size_t len)
{
  struct mem *m = d;
  size_t n = m->len - m->off < len ? m->len - m->off : len;
  memcpy (buf, m->p + m->off, n);
  m->off += n;
  return (ssize_t)n;
}

static int
entries (const char *path)
{
  DIR *d = opendir (path);
  struct dirent *de;
  int n = 0;
  while (d && (de = readdir (d)))
    n += strcmp (de->d_name, ".") && strcmp (de->d_name, "..");
  if (d)
    closedir (d);
  return n;
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  char dir[] = "/tmp/hull-fuzz-layer.XXXXXX";
  if (mkdtemp (dir) == NULL)
    abort ();
  char layer[64], outside[64];
  snprintf (layer, sizeof (layer), "%s/layer", dir);
  snprintf (outside, sizeof (outside), "%s/outside", dir);
  if (mkdir (layer, 0755) < 0 || mkdir (outside, 0755) < 0)
    abort ();
  int fd = open (layer, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  struct img_unpack_opts o
      = { .what = "layer fuzz", .limits = { .max_entries = 2000, .max_bytes = 8 << 20 } };
  struct img_unpack_result res;
  hull_error_t err = NULL;
  struct mem m = { data, size, 0 };
  if (img_unpack_layer (fd, mem_read, &m, &o, &res, &err) == 0)
    {
      if (strncmp (res.digest, "sha256:", 7) != 0 || strncmp (res.diff_id, "sha256:", 7) != 0)
        abort ();
      img_unpack_result_release (&res);
    }
  else if (err == NULL || strncmp (err->msg, "layer fuzz", 10) != 0)
    abort (); /* every error names the layer */
  hull_error_release (&err);
  close (fd);
  if (entries (outside) != 0 || entries (dir) != 2)
    {
      fprintf (stderr, "an entry escaped the layer directory\n");
      abort ();
    }
  hull_rm_rf_at (AT_FDCWD, dir, &err);
  hull_error_release (&err);
  return 0;
}
