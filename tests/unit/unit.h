/* A minimal unit-test harness: TEST(name) { ... } with CHECK()/CHECK_STR(),
 * then RUN_TESTS() in main.  Prints "N passed, N failed" at the end. */
#ifndef HULL_UNIT_H
#define HULL_UNIT_H
#include <stdio.h>
#include <string.h>

struct unit_test { const char *name; void (*fn) (int *failed); };
#define UNIT_MAX_TESTS 512
static struct unit_test unit_tests[UNIT_MAX_TESTS];
static int unit_n_tests;

#define TEST(name)                                                                   \
  static void test_##name (int *unit_failed);                                        \
  __attribute__ ((constructor)) static void register_##name (void)                   \
  {                                                                                  \
    unit_tests[unit_n_tests++] = (struct unit_test){ #name, test_##name };           \
  }                                                                                  \
  static void test_##name (int *unit_failed)

#define CHECK(cond)                                                                  \
  do                                                                                 \
    if (!(cond))                                                                     \
      {                                                                              \
        fprintf (stderr, "  %s:%d: CHECK failed: %s\n", __FILE__, __LINE__, #cond);  \
        *unit_failed = 1;                                                            \
        return;                                                                      \
      }                                                                              \
  while (0)

#define CHECK_STR(a, b)                                                              \
  do                                                                                 \
    {                                                                                \
      const char *unit_a_ = (a), *unit_b_ = (b);                                     \
      if (unit_a_ == NULL || unit_b_ == NULL || strcmp (unit_a_, unit_b_) != 0)      \
        {                                                                            \
          fprintf (stderr, "  %s:%d: expected \"%s\", got \"%s\"\n", __FILE__,       \
                   __LINE__, unit_b_ ? unit_b_ : "(null)", unit_a_ ? unit_a_ : "(null)"); \
          *unit_failed = 1;                                                          \
          return;                                                                    \
        }                                                                            \
    }                                                                                \
  while (0)

/* Substring match, for error messages. */
#define CHECK_CONTAINS(hay, needle)                                                  \
  do                                                                                 \
    {                                                                                \
      const char *unit_h_ = (hay);                                                   \
      if (unit_h_ == NULL || strstr (unit_h_, (needle)) == NULL)                      \
        {                                                                            \
          fprintf (stderr, "  %s:%d: \"%s\" does not contain \"%s\"\n", __FILE__,    \
                   __LINE__, unit_h_ ? unit_h_ : "(null)", (needle));                \
          *unit_failed = 1;                                                          \
          return;                                                                    \
        }                                                                            \
    }                                                                                \
  while (0)

static inline int
unit_run_all (const char *suite)
{
  int passed = 0, failed = 0;
  for (int i = 0; i < unit_n_tests; i++)
    {
      int f = 0;
      unit_tests[i].fn (&f);
      printf ("%s %s.%s\n", f ? "FAIL" : "ok  ", suite, unit_tests[i].name);
      f ? failed++ : passed++;
    }
  printf ("%s: %d passed, %d failed\n", suite, passed, failed);
  return failed ? 1 : 0;
}
#define RUN_TESTS(suite) int main (void) { return unit_run_all (suite); }
#endif
