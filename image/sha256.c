/* sha256 (FIPS 180-4), so that hull need not link libcrypto: its static
 * copy put 17,900 relocations, 360 KiB of relocated tables and a CPUID
 * constructor into the start-up of every hull command, image or not.
 * With the x86 SHA extensions (Intel since Ice Lake, AMD since Zen) it hashes
 * as fast as libcrypto (1.9 GB/s on the development machine); the portable
 * code does 0.36 GB/s, where libcrypto's AVX2 code would do about 0.5. */
#include "image-internal.h"

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#include <sys/platform/x86.h>
#define HAVE_SHA_NI 1
#endif

static const uint32_t K[64] = {
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5,
  0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7, 0xc19bf174,
  0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da,
  0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147, 0x06ca6351, 0x14292967,
  0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85,
  0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819, 0xd6990624, 0xf40e3585, 0x106aa070,
  0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3,
  0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208, 0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
};

static bool force_portable;

#define ROR(x, n) (((x) >> (n)) | ((x) << (32 - (n))))
#define BSIG0(a) (ROR (a, 2) ^ ROR (a, 13) ^ ROR (a, 22))
#define BSIG1(e) (ROR (e, 6) ^ ROR (e, 11) ^ ROR (e, 25))
#define SSIG0(x) (ROR (x, 7) ^ ROR (x, 18) ^ ((x) >> 3))
#define SSIG1(x) (ROR (x, 17) ^ ROR (x, 19) ^ ((x) >> 10))
#define CH(e, f, g) ((g) ^ ((e) & ((f) ^ (g))))
#define MAJ(a, b, c) (((a) & (b)) | ((c) & ((a) | (b))))
/* One round; the caller renames the variables instead of shifting them. */
#define ROUND(a, b, c, d, e, f, g, h, i, w)                                                                  \
  do                                                                                                         \
    {                                                                                                        \
      uint32_t t1_ = h + BSIG1 (e) + CH (e, f, g) + K[i] + (w);                                              \
      d += t1_;                                                                                              \
      h = t1_ + BSIG0 (a) + MAJ (a, b, c);                                                                   \
    }                                                                                                        \
  while (0)
/* Word i >= 16 of the schedule, kept in a ring of 16. */
#define WORD(i) (w[(i)&15] += SSIG1 (w[((i)-2) & 15]) + w[((i)-7) & 15] + SSIG0 (w[((i)-15) & 15]))
#define ROUNDS8(i, W)                                                                                        \
  do                                                                                                         \
    {                                                                                                        \
      ROUND (a, b, c, d, e, f, g, h, (i) + 0, W ((i) + 0));                                                  \
      ROUND (h, a, b, c, d, e, f, g, (i) + 1, W ((i) + 1));                                                  \
      ROUND (g, h, a, b, c, d, e, f, (i) + 2, W ((i) + 2));                                                  \
      ROUND (f, g, h, a, b, c, d, e, (i) + 3, W ((i) + 3));                                                  \
      ROUND (e, f, g, h, a, b, c, d, (i) + 4, W ((i) + 4));                                                  \
      ROUND (d, e, f, g, h, a, b, c, (i) + 5, W ((i) + 5));                                                  \
      ROUND (c, d, e, f, g, h, a, b, (i) + 6, W ((i) + 6));                                                  \
      ROUND (b, c, d, e, f, g, h, a, (i) + 7, W ((i) + 7));                                                  \
    }                                                                                                        \
  while (0)
#define FIRST(i) w[i]

static uint32_t
load_be32 (const unsigned char *p)
{
  return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static void
blocks_portable (uint32_t st[8], const unsigned char *p, size_t n)
{
  for (; n; n--, p += 64)
    {
      uint32_t w[16], a = st[0], b = st[1], c = st[2], d = st[3], e = st[4], f = st[5], g = st[6], h = st[7];
      for (int i = 0; i < 16; i++)
        w[i] = load_be32 (p + 4 * i);
      ROUNDS8 (0, FIRST);
      ROUNDS8 (8, FIRST);
      for (int i = 16; i < 64; i += 8)
        ROUNDS8 (i, WORD);
      st[0] += a;
      st[1] += b;
      st[2] += c;
      st[3] += d;
      st[4] += e;
      st[5] += f;
      st[6] += g;
      st[7] += h;
    }
}

#ifdef HAVE_SHA_NI
/* Intel's SHA-extensions sequence: sha256rnds2 does two rounds on the state
 * split as ABEF/CDGH, sha256msg1/msg2 extend the message schedule four
 * words at a time, 12 words ahead of the rounds that use them. */
#define SHA_NI __attribute__ ((target ("sha,ssse3,sse4.1")))

/* Four rounds with the message words m (+ K[k..k+3]). */
#define ROUNDS4(m, k)                                                                                        \
  do                                                                                                         \
    {                                                                                                        \
      __m128i wk_ = _mm_add_epi32 ((m), _mm_loadu_si128 ((const __m128i *)&K[k]));                           \
      cdgh = _mm_sha256rnds2_epu32 (cdgh, abef, wk_);                                                        \
      abef = _mm_sha256rnds2_epu32 (abef, cdgh, _mm_shuffle_epi32 (wk_, 0x0e));                              \
    }                                                                                                        \
  while (0)
/* The next words of the schedule: next (already through msg1) + the words
 * 7 back, through msg2 with cur. */
#define SCHEDULE(next, prev, cur)                                                                            \
  next = _mm_sha256msg2_epu32 (_mm_add_epi32 (next, _mm_alignr_epi8 (cur, prev, 4)), cur)
/* Rounds k..k+3 with cur, the schedule 4 words on, msg1 on prev. */
#define QUAD(prev, cur, next, k)                                                                             \
  do                                                                                                         \
    {                                                                                                        \
      ROUNDS4 (cur, k);                                                                                      \
      SCHEDULE (next, prev, cur);                                                                            \
      prev = _mm_sha256msg1_epu32 (prev, cur);                                                               \
    }                                                                                                        \
  while (0)

SHA_NI static void
blocks_sha_ni (uint32_t st[8], const unsigned char *p, size_t n)
{
  const __m128i bswap = _mm_set_epi64x (0x0c0d0e0f08090a0bULL, 0x0405060700010203ULL);
  __m128i cdab = _mm_shuffle_epi32 (_mm_loadu_si128 ((const __m128i *)&st[0]), 0xb1);
  __m128i efgh = _mm_shuffle_epi32 (_mm_loadu_si128 ((const __m128i *)&st[4]), 0x1b);
  __m128i abef = _mm_alignr_epi8 (cdab, efgh, 8);
  __m128i cdgh = _mm_blend_epi16 (efgh, cdab, 0xf0);
  for (; n; n--, p += 64)
    {
      __m128i abef0 = abef, cdgh0 = cdgh;
      __m128i m0 = _mm_shuffle_epi8 (_mm_loadu_si128 ((const __m128i *)(p + 0)), bswap);
      __m128i m1 = _mm_shuffle_epi8 (_mm_loadu_si128 ((const __m128i *)(p + 16)), bswap);
      __m128i m2 = _mm_shuffle_epi8 (_mm_loadu_si128 ((const __m128i *)(p + 32)), bswap);
      __m128i m3 = _mm_shuffle_epi8 (_mm_loadu_si128 ((const __m128i *)(p + 48)), bswap);
      ROUNDS4 (m0, 0);
      ROUNDS4 (m1, 4);
      m0 = _mm_sha256msg1_epu32 (m0, m1);
      ROUNDS4 (m2, 8);
      m1 = _mm_sha256msg1_epu32 (m1, m2);
      QUAD (m2, m3, m0, 12);
      QUAD (m3, m0, m1, 16);
      QUAD (m0, m1, m2, 20);
      QUAD (m1, m2, m3, 24);
      QUAD (m2, m3, m0, 28);
      QUAD (m3, m0, m1, 32);
      QUAD (m0, m1, m2, 36);
      QUAD (m1, m2, m3, 40);
      QUAD (m2, m3, m0, 44);
      QUAD (m3, m0, m1, 48);
      ROUNDS4 (m1, 52);
      SCHEDULE (m2, m0, m1);
      ROUNDS4 (m2, 56);
      SCHEDULE (m3, m1, m2);
      ROUNDS4 (m3, 60);
      abef = _mm_add_epi32 (abef, abef0);
      cdgh = _mm_add_epi32 (cdgh, cdgh0);
    }
  __m128i feba = _mm_shuffle_epi32 (abef, 0x1b);
  __m128i dchg = _mm_shuffle_epi32 (cdgh, 0xb1);
  _mm_storeu_si128 ((__m128i *)&st[0], _mm_blend_epi16 (feba, dchg, 0xf0)); /* DCBA: A first in memory */
  _mm_storeu_si128 ((__m128i *)&st[4], _mm_alignr_epi8 (dchg, feba, 8));    /* HGFE */
}
#endif

static void
blocks (const struct img_sha256 *h, uint32_t st[8], const unsigned char *p, size_t n)
{
#ifdef HAVE_SHA_NI
  if (h->sha_ni)
    {
      blocks_sha_ni (st, p, n);
      return;
    }
#endif
  (void)h;
  blocks_portable (st, p, n);
}

/* From glibc's CPU probe at start-up: no CPUID here (in a VM, a trap to the
 * hypervisor). */
static bool
cpu_has_sha_ni (void)
{
#ifdef HAVE_SHA_NI
  return CPU_FEATURE_ACTIVE (SHA) && CPU_FEATURE_ACTIVE (SSE4_1) && CPU_FEATURE_ACTIVE (SSSE3);
#else
  return false;
#endif
}

bool
img_sha256_force_portable (bool on)
{
  force_portable = on;
  return cpu_has_sha_ni ();
}

void
img_sha256_init (struct img_sha256 *h)
{
  static const uint32_t iv[8]
      = { 0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19 };
  memcpy (h->state, iv, sizeof (iv));
  h->len = 0;
  h->sha_ni = !force_portable && cpu_has_sha_ni ();
}

void
img_sha256_update (struct img_sha256 *h, const void *buf, size_t len)
{
  const unsigned char *p = buf;
  size_t used = h->len % 64;
  h->len += len;
  if (used)
    {
      size_t k = 64 - used < len ? 64 - used : len;
      memcpy (h->block + used, p, k);
      p += k;
      len -= k;
      if (used + k < 64)
        return;
      blocks (h, h->state, h->block, 1);
    }
  if (len >= 64)
    {
      blocks (h, h->state, p, len / 64);
      p += len / 64 * 64;
      len %= 64;
    }
  if (len)
    memcpy (h->block, p, len);
}

void
img_sha256_final_raw (struct img_sha256 *h, unsigned char md[32])
{
  uint64_t bits = h->len * 8;
  size_t used = h->len % 64;
  h->block[used++] = 0x80;
  if (used > 56)
    {
      memset (h->block + used, 0, 64 - used);
      blocks (h, h->state, h->block, 1);
      used = 0;
    }
  memset (h->block + used, 0, 56 - used);
  for (int i = 0; i < 8; i++)
    h->block[56 + i] = (unsigned char)(bits >> (56 - 8 * i));
  blocks (h, h->state, h->block, 1);
  for (int i = 0; i < 8; i++)
    for (int j = 0; j < 4; j++)
      md[4 * i + j] = (unsigned char)(h->state[i] >> (24 - 8 * j));
}
