/* Internal to ns/: the validation halves owned by each part of the module. */
#ifndef HULL_NS_INTERNAL_H
#define HULL_NS_INTERNAL_H
#include "ns.h"
#include <seccomp.h>

/* ns/mounts.c: mount types and options, destinations, devices, masked and
 * read-only paths, rootfsPropagation. */
int ns_validate_mounts (const struct oci_config *c, hull_error_t *err);
/* ns/process.c: sysctls (namespaced only, and their namespace must be new),
 * rlimits, capabilities names, personality, console size. */
int ns_validate_process (const struct oci_config *c, hull_error_t *err);

/* ns/seccomp.c: builds the filter and its program once, so that every error
 * shows at create time; listenerPath must be absolute with SCMP_ACT_NOTIFY. */
int ns_validate_seccomp (const struct oci_config *c, hull_error_t *err);

/* ---- ns/seccomp.c: the pieces, for the unit tests and the fuzzer ------------ */
/* Pure translation of linux.seccomp into a libseccomp filter (nothing is
 * loaded): actions, errnoRet, architectures, flags, rules and their
 * argument conditions.  The caller releases *out with seccomp_release. */
int ns_seccomp_build (const struct oci_seccomp *s, scmp_filter_ctx *out, hull_error_t *err);
/* "SCMP_ACT_ERRNO" + errnoRet -> SCMP_ACT_ERRNO(errnoRet); -1 when unknown. */
int ns_seccomp_action (const char *name, oci_u64 errno_ret, uint32_t *out);
/* "SCMP_ARCH_X86_64" -> SCMP_ARCH_X86_64; 0 when libseccomp does not know it. */
uint32_t ns_seccomp_arch (const char *name);
bool ns_seccomp_uses_notify (const struct oci_seccomp *s);

/* What the kernel gets: runc's -ENOSYS stub (stub_len instructions) in
 * front of libseccomp's program, and the seccomp(2) flags. */
struct ns_seccomp_program
{
  struct sock_filter *insns;
  size_t len, stub_len;
  unsigned int flags; /* SECCOMP_FILTER_FLAG_* */
};
int ns_seccomp_program (scmp_filter_ctx ctx, const struct oci_seccomp *s, struct ns_seccomp_program *out,
                        hull_error_t *err);
void ns_seccomp_program_release (struct ns_seccomp_program *p);
/* seccomp(SECCOMP_SET_MODE_FILTER) in the calling thread; *notify_fd gets
 * the listener fd when the program has SCMP_ACT_NOTIFY rules, else -1. */
int ns_seccomp_program_load (const struct ns_seccomp_program *p, int *notify_fd, hull_error_t *err);
/* runc's ContainerProcessState JSON (ociVersion, fds ["seccompFd"], pid,
 * metadata, state with pid) and its SCM_RIGHTS send. */
char *ns_seccomp_listener_message (const struct oci_state *state, pid_t pid, const char *metadata);
int ns_seccomp_send_to_listener (int sock, int notify_fd, const char *msg, hull_error_t *err);

/* ns/apparmor.c */
bool ns_apparmor_enabled (void);
int ns_validate_apparmor (const struct oci_process *p, hull_error_t *err);
int ns_apparmor_apply (const struct oci_process *p, hull_error_t *err);

#endif
