/* Validation of what the kernel side needs, before anything is created. */
#include "ns-internal.h"

static int
validate_namespaces (const struct oci_config *c, hull_error_t *err)
{
  const struct oci_linux *l = c->linux_;
  if (l == NULL)
    return hull_make_error (err, 0, "linux: required on Linux");
  const struct oci_namespace *mnt = NULL;
  for (size_t i = 0; i < l->n_namespaces; i++)
    if (l->namespaces[i].type == OCI_NS_MOUNT)
      mnt = &l->namespaces[i];
  /* Building the rootfs mounts things: without a mount namespace of its own
   * that would happen in the host's. */
  if (mnt == NULL || mnt->path != NULL)
    return hull_make_error (err, 0, "linux.namespaces: a new mount namespace is required");
  bool new_user = oci_config_namespace (c, OCI_NS_USER) != NULL;
  if (new_user && (l->n_uid_mappings == 0 || l->n_gid_mappings == 0))
    return hull_make_error (err, 0, "linux.uidMappings/gidMappings: required with a new user namespace");
  if (!new_user && (l->n_uid_mappings || l->n_gid_mappings))
    return hull_make_error (err, 0, "linux.uidMappings: mappings given without a new user namespace");
  if ((l->has_time_monotonic || l->has_time_boottime) && oci_config_namespace (c, OCI_NS_TIME) == NULL)
    return hull_make_error (err, 0, "linux.timeOffsets: requires a new time namespace");
  if ((c->hostname || c->domainname) && oci_config_namespace (c, OCI_NS_UTS) == NULL)
    return hull_make_error (err, 0, "%s: setting it requires a new uts namespace",
                            c->hostname ? "hostname" : "domainname");
  return 0;
}

int
ns_validate_config (const struct oci_config *c, hull_error_t *err)
{
  if (c->process == NULL)
    return hull_make_error (err, 0, "process: required to create a container");
  if (c->root == NULL || c->root->path == NULL)
    return hull_make_error (err, 0, "root.path: required");
  if (validate_namespaces (c, err) < 0)
    return -1;
  if (ns_validate_mounts (c, err) < 0)
    return -1;
  if (ns_validate_apparmor (c->process, err) < 0)
    return -1;
  return ns_validate_process (c, err);
}
