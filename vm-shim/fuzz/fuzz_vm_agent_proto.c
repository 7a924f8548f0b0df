/* libFuzzer target: what a hostile guest can send on hull.ctl.  The bytes
 * are a stream of control messages; each whole one is decoded the way the
 * VMM (agent-client.c) and the agent decode them: u32 payloads and RUN
 * (argv/env/cwd strings).  A decoded RUN is re-encoded and must decode to
 * the same strings.  Seeds: vm-shim/fuzz/corpus/vm_agent_proto. */
#include "../agent-proto.h"

static void
check_run (const struct vm_agent_msg *m)
{
  struct vm_agent_run run;
  hull_error_t err = NULL;
  if (vm_agent_run_decode (m, &run, &err) < 0)
    {
      hull_error_release (&err);
      return;
    }
  struct vm_agent_buf b;
  if (vm_agent_run_build (&b, run.cwd, (const char *const *)run.argv, (const char *const *)run.env, &err) < 0)
    abort (); /* what decoded must fit again */
  struct vm_agent_msg m2;
  if (vm_agent_msg_parse (b.data, b.len, &m2, &err) != (ssize_t)b.len || m2.len != m->len
      || memcmp (m2.payload, m->payload, m->len) != 0)
    abort ();
  free (b.data);
  vm_agent_run_release (&run);
}

int LLVMFuzzerTestOneInput (const uint8_t *data, size_t size);

int
LLVMFuzzerTestOneInput (const uint8_t *data, size_t size)
{
  size_t off = 0;
  while (off < size)
    {
      struct vm_agent_msg m;
      hull_error_t err = NULL;
      ssize_t got = vm_agent_msg_parse (data + off, size - off, &m, &err);
      if (got <= 0)
        {
          hull_error_release (&err);
          break;
        }
      if (m.payload + m.len > data + size)
        abort ();
      uint32_t v;
      if (m.type == VM_AGENT_RUN)
        check_run (&m);
      else if (vm_agent_u32_decode (&m, &v, &err) < 0)
        hull_error_release (&err);
      off += (size_t)got;
    }
  return 0;
}
