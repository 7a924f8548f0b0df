/* Internal to ns/user.c and ns/process.c: the capability half of
 * ns_validate_process, kept next to the code that applies the sets so both
 * parse capability names the same way. */
#ifndef HULL_NS_USER_INTERNAL_H
#define HULL_NS_USER_INTERNAL_H
#include "ns.h"

/* Warns on stderr about unknown or unavailable names (runc 1.1 ignores them
 * with a warning) and refuses sets the kernel would reject at apply time
 * (effective outside permitted, inheritable outside bounding, ambient
 * outside permitted and inheritable).  caps may be NULL. */
int ns_validate_capabilities (const struct oci_capabilities *caps, hull_error_t *err);

#endif
