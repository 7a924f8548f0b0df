/* The runtime-spec "features" document (features.md) for `hull features`. */
#include "oci-internal.h"

#include <ctype.h>
#include <seccomp.h>
#include <sys/capability.h>

/* The mount options ns/ maps to MS_* flags. */
static const char *const mount_options[] = {
  "async",      "atime",   "bind",       "dev",           "diratime",    "dirsync",    "exec",
  "lazytime",   "loud",    "mand",       "noatime",       "nodev",       "nodiratime", "noexec",
  "nolazytime", "nomand",  "norelatime", "nostrictatime", "nosuid",      "private",    "rbind",
  "relatime",   "remount", "ro",         "rprivate",      "rshared",     "rslave",     "runbindable",
  "rw",         "shared",  "silent",     "slave",         "strictatime", "suid",       "sync",
  "unbindable", NULL,
};

static void
gen_list (yajl_gen g, const char *key, const char *const *v)
{
  oci_gen_key_strv (g, key, (char *const *)v);
}

static void
gen_names (yajl_gen g, const char *key, const struct oci_name *t)
{
  oci_gen_key (g, key);
  yajl_gen_array_open (g);
  for (; t->name; t++)
    oci_gen_str (g, t->name);
  yajl_gen_array_close (g);
}

static void
gen_enabled (yajl_gen g, const char *key, bool enabled)
{
  oci_gen_key (g, key);
  yajl_gen_map_open (g);
  oci_gen_key_bool (g, "enabled", enabled);
  yajl_gen_map_close (g);
}

/* Every capability libcap knows, as CAP_* names. */
static void
gen_capabilities (yajl_gen g)
{
  oci_gen_key (g, "capabilities");
  yajl_gen_array_open (g);
  for (cap_value_t c = 0; c < (cap_value_t)cap_max_bits (); c++)
    {
      char *name = cap_to_name (c);
      if (name == NULL)
        continue;
      if (hull_str_has_prefix (name, "cap_"))
        {
          for (char *s = name; *s; s++)
            *s = (char)toupper ((unsigned char)*s);
          oci_gen_str (g, name);
        }
      cap_free (name);
    }
  yajl_gen_array_close (g);
}

static void
gen_seccomp (yajl_gen g)
{
  oci_gen_key (g, "seccomp");
  yajl_gen_map_open (g);
  oci_gen_key_bool (g, "enabled", true);
  gen_names (g, "actions", oci_seccomp_actions);
  gen_names (g, "operators", oci_seccomp_ops);
  gen_list (g, "archs", oci_seccomp_archs);
  gen_list (g, "knownFlags", oci_seccomp_flags);
  yajl_gen_map_close (g);
}

static void
gen_linux (yajl_gen g)
{
  oci_gen_key (g, "linux");
  yajl_gen_map_open (g);
  oci_gen_key (g, "namespaces");
  yajl_gen_array_open (g);
  for (int t = 0; t < OCI_NS_TYPES; t++)
    oci_gen_str (g, oci_ns_type_names[t]);
  yajl_gen_array_close (g);
  gen_capabilities (g);
  oci_gen_key (g, "cgroup");
  yajl_gen_map_open (g);
  oci_gen_key_bool (g, "v1", false);
  oci_gen_key_bool (g, "v2", true);
  oci_gen_key_bool (g, "systemd", false);
  oci_gen_key_bool (g, "systemdUser", false);
  oci_gen_key_bool (g, "rdma", true);
  yajl_gen_map_close (g);
  gen_seccomp (g);
  /* "Whether AppArmor support is compiled in", not whether the host has
   * it (runtime-spec features.md): process.apparmorProfile is applied
   * (ns/apparmor.c), as runc says true. */
  gen_enabled (g, "apparmor", true);
  gen_enabled (g, "selinux", false);
  gen_enabled (g, "intelRdt", false);
  yajl_gen_map_close (g);
}

char *
oci_features_to_json (void)
{
  yajl_gen g = oci_gen_new (true);
  yajl_gen_map_open (g);
  oci_gen_key_str (g, "ociVersionMin", "1.0.0");
  oci_gen_key_str (g, "ociVersionMax", "1.2.0");
  oci_gen_key (g, "hooks");
  yajl_gen_array_open (g);
  for (int k = 0; k < OCI_HOOK_KINDS; k++)
    oci_gen_str (g, oci_hook_kind_names[k]);
  yajl_gen_array_close (g);
  gen_list (g, "mountOptions", mount_options);
  gen_linux (g);
  oci_gen_key (g, "annotations");
  yajl_gen_map_open (g);
  const struct scmp_version *v = seccomp_version ();
  cleanup_free char *ver = hull_fmt ("%u.%u.%u", v->major, v->minor, v->micro);
  oci_gen_key_str (g, "io.github.seccomp.libseccomp.version", ver);
  oci_gen_key_str (g, "io.hull.isolation", "container,vm");
  yajl_gen_map_close (g);
  yajl_gen_map_close (g);
  return oci_gen_finish (g);
}
