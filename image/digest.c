/* Digests ("sha256:HEX") and their checks; the hash is image/sha256.c. */
#include "image-internal.h"

#include <sys/random.h>

static void
to_hex (const unsigned char *in, size_t n, char *out)
{
  static const char hex[] = "0123456789abcdef";
  for (size_t i = 0; i < n; i++)
    {
      out[2 * i] = hex[in[i] >> 4];
      out[2 * i + 1] = hex[in[i] & 15];
    }
  out[2 * n] = '\0';
}

void
img_sha256_final (struct img_sha256 *h, char out[IMG_DIGEST_LEN])
{
  unsigned char md[32];
  img_sha256_final_raw (h, md);
  memcpy (out, "sha256:", 7);
  to_hex (md, 32, out + 7);
}

void
img_sha256_buf (const void *buf, size_t len, char out[IMG_DIGEST_LEN])
{
  struct img_sha256 h;
  img_sha256_init (&h);
  img_sha256_update (&h, buf, len);
  img_sha256_final (&h, out);
}

bool
img_hex64_valid (const char *h)
{
  size_t i;
  for (i = 0; h[i]; i++)
    if (!((h[i] >= '0' && h[i] <= '9') || (h[i] >= 'a' && h[i] <= 'f')))
      return false;
  return i == 64;
}

bool
img_digest_valid (const char *d)
{
  return d && strncmp (d, "sha256:", 7) == 0 && img_hex64_valid (d + 7);
}

int
img_digest_check (const char *d, const char *what, hull_error_t *err)
{
  if (img_digest_valid (d))
    return 0;
  if (d && strchr (d, ':') && strncmp (d, "sha256:", 7) != 0)
    return hull_make_error (err, 0, "%s: digest algorithm of `%.80s` is not supported (only sha256)", what,
                            d);
  return hull_make_error (err, 0, "%s: `%.80s` is not a sha256 digest", what, d ? d : "");
}

char *
img_random_hex (size_t n_bytes)
{
  unsigned char buf[32];
  if (n_bytes > sizeof (buf))
    n_bytes = sizeof (buf);
  size_t got = 0;
  while (got < n_bytes)
    {
      ssize_t r = getrandom (buf + got, n_bytes - got, 0);
      if (r < 0 && errno == EINTR)
        continue;
      if (r < 0)
        abort ();
      got += r;
    }
  char *out = xmalloc (2 * n_bytes + 1);
  to_hex (buf, n_bytes, out);
  return out;
}
