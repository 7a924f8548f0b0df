/* Encoding and checked decoding of the agent's control messages
 * (agent-proto.h).  Pure: no system calls, so the guest agent, the VMM and
 * the fuzzer (fuzz/fuzz_vm_agent_proto.c) share it. */
#include "agent-proto.h"

static uint32_t
get_le32 (const uint8_t *p)
{
  return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

static void
put_le32 (uint8_t *p, uint32_t v)
{
  p[0] = (uint8_t)v;
  p[1] = (uint8_t)(v >> 8);
  p[2] = (uint8_t)(v >> 16);
  p[3] = (uint8_t)(v >> 24);
}

const char *
vm_agent_msg_name (uint32_t type)
{
  switch (type)
    {
    case VM_AGENT_HELLO: return "HELLO";
    case VM_AGENT_STARTED: return "STARTED";
    case VM_AGENT_EXIT: return "EXIT";
    case VM_AGENT_ERROR: return "ERROR";
    case VM_AGENT_RUN: return "RUN";
    case VM_AGENT_SIGNAL: return "SIGNAL";
    default: return NULL;
    }
}

ssize_t
vm_agent_msg_parse (const uint8_t *buf, size_t n, struct vm_agent_msg *m, hull_error_t *err)
{
  if (n < VM_AGENT_HDR_SIZE)
    return 0;
  uint32_t type = get_le32 (buf), len = get_le32 (buf + 4);
  if (vm_agent_msg_name (type) == NULL)
    return hull_make_error (err, 0, "control message of unknown type %" PRIu32, type);
  if (len > VM_AGENT_MSG_MAX)
    return hull_make_error (err, 0, "control message %s of %" PRIu32 " bytes (at most %u)", vm_agent_msg_name (type),
                            len, VM_AGENT_MSG_MAX);
  if (n - VM_AGENT_HDR_SIZE < len)
    return 0;
  *m = (struct vm_agent_msg){ .type = type, .len = len, .payload = buf + VM_AGENT_HDR_SIZE };
  return (ssize_t)(VM_AGENT_HDR_SIZE + len);
}

void
vm_agent_msg_build (struct vm_agent_buf *out, uint32_t type, const void *payload, uint32_t len)
{
  out->len = VM_AGENT_HDR_SIZE + (size_t)len;
  out->data = xmalloc (out->len);
  put_le32 (out->data, type);
  put_le32 (out->data + 4, len);
  if (len > 0)
    memcpy (out->data + VM_AGENT_HDR_SIZE, payload, len);
}

void
vm_agent_msg_build_u32 (struct vm_agent_buf *out, uint32_t type, uint32_t value)
{
  uint8_t p[4];
  put_le32 (p, value);
  vm_agent_msg_build (out, type, p, sizeof (p));
}

int
vm_agent_run_build (struct vm_agent_buf *out, const char *cwd, const char *const *argv, const char *const *env,
                    hull_error_t *err)
{
  size_t argc = 0, envc = 0, len = 8 + strlen (cwd) + 1;
  for (; argv[argc]; argc++)
    len += strlen (argv[argc]) + 1;
  for (; env && env[envc]; envc++)
    len += strlen (env[envc]) + 1;
  if (argc == 0)
    return hull_make_error (err, EINVAL, "no command to run");
  if (argc + envc > VM_AGENT_MAX_STRINGS || len > VM_AGENT_MSG_MAX)
    return hull_make_error (err, E2BIG, "command and environment: %zu strings, %zu bytes (at most %u, %u)",
                            argc + envc, len, VM_AGENT_MAX_STRINGS, VM_AGENT_MSG_MAX);
  cleanup_free uint8_t *p = xmalloc (len);
  put_le32 (p, (uint32_t)argc);
  put_le32 (p + 4, (uint32_t)envc);
  uint8_t *w = p + 8;
  w = (uint8_t *)stpcpy ((char *)w, cwd) + 1;
  for (size_t i = 0; i < argc; i++)
    w = (uint8_t *)stpcpy ((char *)w, argv[i]) + 1;
  for (size_t i = 0; i < envc; i++)
    w = (uint8_t *)stpcpy ((char *)w, env[i]) + 1;
  vm_agent_msg_build (out, VM_AGENT_RUN, p, (uint32_t)len);
  return 0;
}

int
vm_agent_u32_decode (const struct vm_agent_msg *m, uint32_t *value, hull_error_t *err)
{
  if (m->len != 4)
    return hull_make_error (err, 0, "control message %s: %" PRIu32 " bytes of payload, expected 4",
                            vm_agent_msg_name (m->type), m->len);
  *value = get_le32 (m->payload);
  return 0;
}

/* Points v[0..count) at the next `count` NUL-terminated strings of
 * s[*off..len); fails when one runs past the end. */
static int
take_strings (char *s, size_t len, size_t *off, char **v, size_t count, const char *what, hull_error_t *err)
{
  for (size_t i = 0; i < count; i++)
    {
      char *nul = *off < len ? memchr (s + *off, '\0', len - *off) : NULL;
      if (nul == NULL)
        return hull_make_error (err, 0, "control message RUN: %s[%zu] is not NUL-terminated", what, i);
      v[i] = s + *off;
      *off = (size_t)(nul - s) + 1;
    }
  return 0;
}

int
vm_agent_run_decode (const struct vm_agent_msg *m, struct vm_agent_run *run, hull_error_t *err)
{
  *run = (struct vm_agent_run){ 0 };
  if (m->type != VM_AGENT_RUN || m->len < 8)
    return hull_make_error (err, 0, "control message RUN: %" PRIu32 " bytes, too short", m->len);
  uint32_t argc = get_le32 (m->payload), envc = get_le32 (m->payload + 4);
  if (argc == 0 || argc > VM_AGENT_MAX_STRINGS || envc > VM_AGENT_MAX_STRINGS - argc)
    return hull_make_error (err, 0, "control message RUN: %" PRIu32 " arguments and %" PRIu32
                            " environment strings (1..%u in all)", argc, envc, VM_AGENT_MAX_STRINGS);
  size_t len = m->len - 8, off = 0;
  run->strings = xmalloc (len + 1);
  memcpy (run->strings, m->payload + 8, len);
  run->strings[len] = '\0'; /* not part of the payload: the checks below ignore it */
  run->argv = xmalloc0 ((argc + 1) * sizeof (char *));
  run->env = xmalloc0 ((envc + 1) * sizeof (char *));
  char *cwd = NULL;
  if (take_strings (run->strings, len, &off, &cwd, 1, "cwd", err) < 0
      || take_strings (run->strings, len, &off, run->argv, argc, "argv", err) < 0
      || take_strings (run->strings, len, &off, run->env, envc, "env", err) < 0)
    goto fail;
  if (off != len)
    {
      hull_make_error (err, 0, "control message RUN: %zu bytes after the last string", len - off);
      goto fail;
    }
  if (cwd[0] != '/')
    {
      hull_make_error (err, 0, "control message RUN: cwd '%s' is not absolute", cwd);
      goto fail;
    }
  run->cwd = cwd;
  return 0;
fail:
  vm_agent_run_release (run);
  return -1;
}

void
vm_agent_run_release (struct vm_agent_run *run)
{
  free (run->strings);
  free (run->argv);
  free (run->env);
  *run = (struct vm_agent_run){ 0 };
}
