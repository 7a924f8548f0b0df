/* Internal to ns/: the validation halves owned by each part of the module. */
#ifndef HULL_NS_INTERNAL_H
#define HULL_NS_INTERNAL_H
#include "ns.h"

/* ns/mounts.c: mount types and options, destinations, devices, masked and
 * read-only paths, rootfsPropagation. */
int ns_validate_mounts (const struct oci_config *c, hull_error_t *err);
/* ns/process.c: sysctls (namespaced only, and their namespace must be new),
 * rlimits, capabilities names, personality, console size. */
int ns_validate_process (const struct oci_config *c, hull_error_t *err);

#endif
