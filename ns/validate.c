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

/* Without newuidmap/newgidmap (hull does not use them), an unprivileged
 * caller may only map its own uid and gid, one id each; the kernel would
 * say no more than EPERM when the map is written. */
static int
validate_own_map (const struct oci_id_mapping *m, size_t n, uint32_t own, const char *name, hull_error_t *err)
{
  if (n == 1 && m[0].host_id == own && m[0].size == 1)
    return 0;
  return hull_make_error (err, EPERM,
                          "linux.%s: run without root, hull can only map the caller's own id (one entry with "
                          "hostID %u and size 1, as `hull spec --rootless` writes); it does not use "
                          "newuidmap/newgidmap",
                          name, (unsigned)own);
}

/* Rootless: the caller may not make any other namespace outside a user
 * namespace of its own. */
static int
validate_unprivileged (const struct oci_config *c, hull_error_t *err)
{
  if (geteuid () == 0)
    return 0;
  const struct oci_linux *l = c->linux_;
  const struct oci_namespace *user = oci_config_namespace (c, OCI_NS_USER);
  if (user == NULL)
    return hull_make_error (
        err, EPERM,
        "linux.namespaces: run without root (euid %u), the container needs a user namespace "
        "(make the config with `hull spec --rootless`)",
        (unsigned)geteuid ());
  if (user->path)
    return 0;
  if (validate_own_map (l->uid_mappings, l->n_uid_mappings, geteuid (), "uidMappings", err) < 0)
    return -1;
  return validate_own_map (l->gid_mappings, l->n_gid_mappings, getegid (), "gidMappings", err);
}

static bool
id_mapped (const struct oci_id_mapping *m, size_t n, uint64_t id)
{
  for (size_t i = 0; i < n; i++)
    if (id >= m[i].container_id && id - m[i].container_id < m[i].size)
      return true;
  return false;
}

/* uid= and gid= mount options (devpts, tmpfs) name ids inside the new user
 * namespace; an unmapped one makes the mount fail with a bare EINVAL. */
static int
validate_mount_ids (const struct oci_config *c, hull_error_t *err)
{
  const struct oci_linux *l = c->linux_;
  const struct oci_namespace *user = oci_config_namespace (c, OCI_NS_USER);
  if (user == NULL || user->path)
    return 0;
  for (size_t i = 0; i < c->n_mounts; i++)
    for (size_t j = 0; c->mounts[i].options && c->mounts[i].options[j]; j++)
      {
        const char *o = c->mounts[i].options[j];
        bool uid = hull_str_has_prefix (o, "uid="), gid = hull_str_has_prefix (o, "gid=");
        uint64_t id;
        if ((!uid && !gid) || hull_parse_u64 (o + 4, &id) < 0)
          continue;
        if (!id_mapped (uid ? l->uid_mappings : l->gid_mappings, uid ? l->n_uid_mappings : l->n_gid_mappings,
                        id))
          return hull_make_error (
              err, 0,
              "mounts[%zu].options[%zu]: `%s`: %s %llu is not mapped in the container's user "
              "namespace (linux.%s)",
              i, j, o, uid ? "uid" : "gid", (unsigned long long)id, uid ? "uidMappings" : "gidMappings");
      }
  return 0;
}

int
ns_validate_config (const struct oci_config *c, hull_error_t *err)
{
  if (c->process == NULL)
    return hull_make_error (err, 0, "process: required to create a container");
  if (c->root == NULL || c->root->path == NULL)
    return hull_make_error (err, 0, "root.path: required");
  if (validate_namespaces (c, err) < 0 || validate_unprivileged (c, err) < 0
      || validate_mount_ids (c, err) < 0)
    return -1;
  if (ns_validate_mounts (c, err) < 0)
    return -1;
  if (ns_validate_apparmor (c->process, err) < 0)
    return -1;
  return ns_validate_process (c, err);
}
