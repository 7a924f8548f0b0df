// libFuzzer target for config.json: parse, print, and check that what was
// printed parses again and prints the same (the round trip `hull spec`
// relies on).  Also feeds the same bytes to the process.json, resources
// and state.json parsers, which share the getters.
//   clang -fsanitize=fuzzer,address,undefined -I/usr/include/yajl \
//     tests/fuzz/fuzz_oci_config.c oci/*.c common/common.c -lyajl -lcap -lseccomp
//   ./a.out -max_total_time=60 tests/fuzz/corpus/oci_config
#include "../../oci/oci.h"

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

static void
check_roundtrip (const struct oci_config *c, bool pretty)
{
  hull_error_t err = NULL;
  char *a = oci_config_to_json (c, pretty);
  struct oci_config *c2 = oci_config_parse (a, strlen (a), "printed", &err);
  if (c2 == NULL)
    {
      fprintf (stderr, "printed config does not parse: %s\n%s\n", err->msg, a);
      abort ();
    }
  char *b = oci_config_to_json (c2, pretty);
  if (strcmp (a, b) != 0)
    {
      fprintf (stderr, "round trip differs:\n%s\n---\n%s\n", a, b);
      abort ();
    }
  free (a);
  free (b);
  oci_config_free (c2);
}

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  hull_error_t err = NULL;
  const char *json = (const char *)data;
  struct oci_config *c = oci_config_parse (json, size, "config.json", &err);
  if (c == NULL)
    {
      if (err == NULL || err->msg == NULL || strncmp (err->msg, "config.json: ", 13) != 0)
        abort ();
      hull_error_release (&err);
    }
  else
    {
      check_roundtrip (c, size & 1);
      oci_config_free (c);
    }

  struct oci_process *p = oci_process_parse (json, size, "process.json", &err);
  oci_process_free (p);
  hull_error_release (&err);

  struct oci_state *s = oci_state_parse (json, size, "state.json", &err);
  if (s != NULL)
    {
      free (oci_state_to_json (s, size & 1, size & 2));
      oci_state_free (s);
    }
  hull_error_release (&err);

  struct oci_resources r;
  if (oci_resources_parse (json, size, "resources.json", &r, &err) == 0)
    oci_resources_release (&r);
  hull_error_release (&err);
  return 0;
}
