/* The guest agent's control messages (vm-shim/agent-proto.c): framing,
 * round trips, and everything a hostile guest (or a broken host) could put
 * in a message being refused with a reason. */
#include "../../vm-shim/agent-proto.h"
#include "unit.h"

static void
put32 (uint8_t *p, uint32_t v)
{
  memcpy (p, &v, 4); /* x86-64: little-endian, as the wire */
}

/* A RUN payload by hand: counts, then the strings (with their NULs). */
static size_t
raw_run (uint8_t *buf, uint32_t argc, uint32_t envc, const char *strings, size_t strings_len)
{
  put32 (buf, VM_AGENT_RUN);
  put32 (buf + 4, (uint32_t)(8 + strings_len));
  put32 (buf + 8, argc);
  put32 (buf + 12, envc);
  memcpy (buf + 16, strings, strings_len);
  return 16 + strings_len;
}

static int
decode_raw (const uint8_t *buf, size_t len, struct vm_agent_run *run, hull_error_t *err)
{
  struct vm_agent_msg m;
  if (vm_agent_msg_parse (buf, len, &m, err) != (ssize_t)len)
    return -2;
  return vm_agent_run_decode (&m, run, err);
}

TEST (run_round_trip)
{
  const char *argv[] = { "/bin/sh", "-c", "echo hi", "", NULL };
  const char *env[] = { "PATH=/bin", "EMPTY=", NULL };
  struct vm_agent_buf b;
  hull_error_t err = NULL;
  CHECK (vm_agent_run_build (&b, "/tmp", argv, env, &err) == 0);
  struct vm_agent_msg m;
  CHECK (vm_agent_msg_parse (b.data, b.len, &m, &err) == (ssize_t)b.len);
  CHECK (m.type == VM_AGENT_RUN);
  struct vm_agent_run run;
  CHECK (vm_agent_run_decode (&m, &run, &err) == 0);
  CHECK_STR (run.cwd, "/tmp");
  for (int i = 0; i < 4; i++)
    CHECK_STR (run.argv[i], argv[i]);
  CHECK (run.argv[4] == NULL);
  CHECK_STR (run.env[0], "PATH=/bin");
  CHECK_STR (run.env[1], "EMPTY=");
  CHECK (run.env[2] == NULL);
  vm_agent_run_release (&run);
  free (b.data);
}

TEST (framing_waits_for_whole_messages)
{
  struct vm_agent_buf b;
  vm_agent_msg_build_u32 (&b, VM_AGENT_EXIT, 0x0300);
  CHECK (b.len == 12);
  struct vm_agent_msg m;
  hull_error_t err = NULL;
  for (size_t n = 0; n < b.len; n++)
    CHECK (vm_agent_msg_parse (b.data, n, &m, &err) == 0);
  CHECK (vm_agent_msg_parse (b.data, b.len, &m, &err) == 12);
  uint32_t v;
  CHECK (vm_agent_u32_decode (&m, &v, &err) == 0 && v == 0x0300);
  free (b.data);
}

TEST (unknown_type_and_oversized_length_are_refused)
{
  uint8_t buf[8];
  struct vm_agent_msg m;
  hull_error_t err = NULL;
  put32 (buf, 99);
  put32 (buf + 4, 0);
  CHECK (vm_agent_msg_parse (buf, 8, &m, &err) == -1);
  CHECK_CONTAINS (err->msg, "unknown type 99");
  hull_error_release (&err);
  /* Refused from the header alone: no waiting for 4 GiB that never come. */
  put32 (buf, VM_AGENT_ERROR);
  put32 (buf + 4, 0xffffffff);
  CHECK (vm_agent_msg_parse (buf, 8, &m, &err) == -1);
  CHECK_CONTAINS (err->msg, "at most");
  hull_error_release (&err);
}

TEST (u32_payload_must_be_four_bytes)
{
  struct vm_agent_buf b;
  vm_agent_msg_build (&b, VM_AGENT_SIGNAL, "\x0f\0\0\0\0", 5);
  struct vm_agent_msg m;
  hull_error_t err = NULL;
  CHECK (vm_agent_msg_parse (b.data, b.len, &m, &err) == 13);
  uint32_t v;
  CHECK (vm_agent_u32_decode (&m, &v, &err) == -1);
  CHECK_CONTAINS (err->msg, "SIGNAL: 5 bytes of payload, expected 4");
  hull_error_release (&err);
  free (b.data);
}

TEST (hostile_runs_are_refused)
{
  uint8_t buf[256];
  struct vm_agent_run run;
  hull_error_t err = NULL;
  static const struct
  {
    uint32_t argc, envc;
    const char *s;
    size_t len;
    const char *want;
  } cases[] = {
    { 0, 0, "/\0", 2, "0 arguments" },
    { 1, 0xffffffff, "/\0a\0", 4, "environment strings" },
    { 0xffffffff, 1, "/\0a\0", 4, "arguments" },
    { 2, 0, "/\0a\0", 4, "argv[1] is not NUL-terminated" },
    { 1, 1, "/\0a\0b", 5, "env[0] is not NUL-terminated" },
    { 1, 0, "/", 1, "cwd[0] is not NUL-terminated" },
    { 1, 0, "/\0a\0junk", 8, "4 bytes after the last string" },
    { 1, 0, "rel\0a\0", 6, "cwd 'rel' is not absolute" },
  };
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      size_t n = raw_run (buf, cases[i].argc, cases[i].envc, cases[i].s, cases[i].len);
      CHECK (decode_raw (buf, n, &run, &err) == -1);
      CHECK_CONTAINS (err->msg, cases[i].want);
      CHECK (run.argv == NULL && run.strings == NULL); /* nothing kept */
      hull_error_release (&err);
    }
  /* Shorter than the two counts. */
  put32 (buf, VM_AGENT_RUN);
  put32 (buf + 4, 4);
  CHECK (decode_raw (buf, 12, &run, &err) == -1);
  CHECK_CONTAINS (err->msg, "too short");
  hull_error_release (&err);
}

TEST (run_build_refuses_what_does_not_fit)
{
  const char *none[] = { NULL };
  struct vm_agent_buf b = { 0 };
  hull_error_t err = NULL;
  CHECK (vm_agent_run_build (&b, "/", none, NULL, &err) == -1);
  CHECK_CONTAINS (err->msg, "no command");
  hull_error_release (&err);
  char *big = xmalloc (VM_AGENT_MSG_MAX + 1);
  memset (big, 'x', VM_AGENT_MSG_MAX);
  big[VM_AGENT_MSG_MAX] = '\0';
  const char *argv[] = { big, NULL };
  CHECK (vm_agent_run_build (&b, "/", argv, NULL, &err) == -1);
  CHECK (err->status == E2BIG);
  CHECK (b.data == NULL);
  hull_error_release (&err);
  free (big);
}

RUN_TESTS ("vm_agent_proto")
