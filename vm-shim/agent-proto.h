/* The control protocol between hull (the host) and the guest agent, on the
 * channel's port "hull.ctl" (docs/vmm.md, "The guest agent").  Shared by
 * both sides: the agent (vm-shim/agent/agent.c, a static binary in the
 * guest) and the VMM's side (agent-client.c).
 *
 * A message is an 8-byte header, then `len` bytes of payload:
 *     u32 type, u32 len            (little-endian, as every integer here)
 * The host trusts nothing the guest sends: every message from the guest goes
 * through vm_agent_msg_parse and the payload decoders below, which check
 * lengths, counts and terminators before anything is used. */
#ifndef HULL_VM_AGENT_PROTO_H
#define HULL_VM_AGENT_PROTO_H

#include "../common/common.h"

#include <inttypes.h>

#define VM_AGENT_PROTO_VERSION 1
#define VM_AGENT_HDR_SIZE 8
#define VM_AGENT_MSG_MAX (1u << 20) /* payload bytes */
#define VM_AGENT_MAX_STRINGS 65536  /* argv + env entries of a RUN */

/* Port names in the guest's /sys/class/virtio-ports/ * /name. */
#define VM_AGENT_PORT_CTL "hull.ctl"
#define VM_AGENT_PORT_STDIN "hull.stdin"
#define VM_AGENT_PORT_STDOUT "hull.stdout"
#define VM_AGENT_PORT_STDERR "hull.stderr"

enum vm_agent_msg_type
{
  /* guest -> host */
  VM_AGENT_HELLO = 1,   /* u32 protocol version: the agent is ready for a RUN */
  VM_AGENT_STARTED = 2, /* u32 pid of the process in the guest */
  VM_AGENT_EXIT = 3,    /* u32 wait status of the process (exited or killed) */
  VM_AGENT_ERROR = 4,   /* text: the agent could not do what it was asked */
  /* host -> guest */
  VM_AGENT_RUN = 16,    /* u32 argc, u32 envc, then NUL-terminated strings:
                           cwd, argv[0..argc), env[0..envc) */
  VM_AGENT_SIGNAL = 17, /* u32 signal number, for the process */
};

struct vm_agent_msg
{
  uint32_t type;
  uint32_t len;
  const uint8_t *payload; /* points into the parsed buffer */
};

/* Looks for one whole message at the start of buf[0..n).  Returns its size
 * (header + payload) and fills *m; 0 when more bytes are needed; -1 when the
 * bytes cannot start a message (unknown type, payload over the limit). */
ssize_t vm_agent_msg_parse (const uint8_t *buf, size_t n, struct vm_agent_msg *m, hull_error_t *err);

/* A message ready to write: header and payload in one allocation. */
struct vm_agent_buf
{
  uint8_t *data;
  size_t len;
};
void vm_agent_msg_build (struct vm_agent_buf *out, uint32_t type, const void *payload, uint32_t len);
void vm_agent_msg_build_u32 (struct vm_agent_buf *out, uint32_t type, uint32_t value);
/* Fails when the strings are too many or too long for one message. */
int vm_agent_run_build (struct vm_agent_buf *out, const char *cwd, const char *const *argv,
                        const char *const *env, hull_error_t *err);

/* Payload decoders: a u32 payload must be exactly 4 bytes. */
int vm_agent_u32_decode (const struct vm_agent_msg *m, uint32_t *value, hull_error_t *err);

/* A decoded RUN: the vectors point into `strings` (one allocation). */
struct vm_agent_run
{
  char *strings;
  const char *cwd;
  char **argv; /* NULL-terminated, at least one entry */
  char **env;  /* NULL-terminated */
};
int vm_agent_run_decode (const struct vm_agent_msg *m, struct vm_agent_run *run, hull_error_t *err);
void vm_agent_run_release (struct vm_agent_run *run);

const char *vm_agent_msg_name (uint32_t type);

#endif
