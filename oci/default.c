/* The config `hull spec` writes: runc's `runc spec` (libcontainer/specconv
 * Example, runc 1.1) with hostname "hull", and its ToRootless changes. */
#include "oci-internal.h"

/* Kept as JSON so that the default goes through the same parser and
 * validation as any config. */
static const char default_config[]
    = "{\"ociVersion\":\"1.2.0\","
      "\"process\":{\"terminal\":true,\"user\":{\"uid\":0,\"gid\":0},\"args\":[\"sh\"],"
      "\"env\":[\"PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin\",\"TERM=xterm\"],"
      "\"cwd\":\"/\","
      "\"capabilities\":{"
      "\"bounding\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
      "\"effective\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"],"
      "\"permitted\":[\"CAP_AUDIT_WRITE\",\"CAP_KILL\",\"CAP_NET_BIND_SERVICE\"]},"
      "\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"hard\":1024,\"soft\":1024}],"
      "\"noNewPrivileges\":true},"
      "\"root\":{\"path\":\"rootfs\",\"readonly\":true},"
      "\"hostname\":\"hull\","
      "\"mounts\":["
      "{\"destination\":\"/proc\",\"type\":\"proc\",\"source\":\"proc\"},"
      "{\"destination\":\"/dev\",\"type\":\"tmpfs\",\"source\":\"tmpfs\","
      "\"options\":[\"nosuid\",\"strictatime\",\"mode=755\",\"size=65536k\"]},"
      "{\"destination\":\"/dev/pts\",\"type\":\"devpts\",\"source\":\"devpts\","
      "\"options\":[\"nosuid\",\"noexec\",\"newinstance\",\"ptmxmode=0666\",\"mode=0620\",\"gid=5\"]},"
      "{\"destination\":\"/dev/shm\",\"type\":\"tmpfs\",\"source\":\"shm\","
      "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"mode=1777\",\"size=65536k\"]},"
      "{\"destination\":\"/dev/mqueue\",\"type\":\"mqueue\",\"source\":\"mqueue\","
      "\"options\":[\"nosuid\",\"noexec\",\"nodev\"]},"
      "{\"destination\":\"/sys\",\"type\":\"sysfs\",\"source\":\"sysfs\","
      "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"ro\"]},"
      "{\"destination\":\"/sys/fs/cgroup\",\"type\":\"cgroup\",\"source\":\"cgroup\","
      "\"options\":[\"nosuid\",\"noexec\",\"nodev\",\"relatime\",\"ro\"]}],"
      "\"linux\":{"
      "\"resources\":{\"devices\":[{\"allow\":false,\"access\":\"rwm\"}]},"
      "\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"network\"},{\"type\":\"ipc\"},{\"type\":\"uts\"},"
      "{\"type\":\"mount\"},{\"type\":\"cgroup\"}],"
      "\"maskedPaths\":[\"/proc/acpi\",\"/proc/asound\",\"/proc/kcore\",\"/proc/keys\","
      "\"/proc/latency_stats\",\"/proc/timer_list\",\"/proc/timer_stats\",\"/proc/sched_debug\","
      "\"/sys/firmware\",\"/proc/scsi\"],"
      "\"readonlyPaths\":[\"/proc/bus\",\"/proc/fs\",\"/proc/irq\",\"/proc/sys\",\"/proc/sysrq-trigger\"]}}";

static void
rootless_namespaces (struct oci_linux *l)
{
  size_t n = 0;
  for (size_t i = 0; i < l->n_namespaces; i++)
    {
      struct oci_namespace *ns = &l->namespaces[i];
      if (ns->type == OCI_NS_NETWORK || ns->type == OCI_NS_USER)
        {
          free (ns->path);
          continue;
        }
      l->namespaces[n++] = *ns;
    }
  l->namespaces = xreallocarray (l->namespaces, n + 1, sizeof (*l->namespaces));
  l->namespaces[n++] = (struct oci_namespace){ .type = OCI_NS_USER };
  l->n_namespaces = n;
}

static struct oci_id_mapping *
single_mapping (uint32_t host_id)
{
  struct oci_id_mapping *m = xmalloc0 (sizeof (*m));
  *m = (struct oci_id_mapping){ .container_id = 0, .host_id = host_id, .size = 1 };
  return m;
}

/* uid= and gid= options name ids that do not exist in a one-id user namespace. */
static void
drop_id_options (char **options)
{
  size_t n = 0;
  for (size_t i = 0; options && options[i]; i++)
    {
      if (hull_str_has_prefix (options[i], "uid=") || hull_str_has_prefix (options[i], "gid="))
        free (options[i]);
      else
        options[n++] = options[i];
    }
  if (options)
    options[n] = NULL;
}

/* sysfs cannot be mounted without a network namespace of our own: bind the host's. */
static void
rootless_sys_mount (struct oci_mount *m)
{
  static const char *const opts[] = { "rbind", "nosuid", "noexec", "nodev", "ro", NULL };
  free (m->type);
  free (m->source);
  strv_free (m->options);
  m->type = xstrdup ("none");
  m->source = xstrdup ("/sys");
  m->options = strv_dup ((char *const *)opts);
}

static void
to_rootless (struct oci_config *c, uid_t uid, gid_t gid)
{
  struct oci_linux *l = c->linux_;
  rootless_namespaces (l);
  free (l->uid_mappings);
  free (l->gid_mappings);
  l->uid_mappings = single_mapping (uid);
  l->gid_mappings = single_mapping (gid);
  l->n_uid_mappings = l->n_gid_mappings = 1;
  for (size_t i = 0; i < c->n_mounts; i++)
    {
      if (strcmp (c->mounts[i].destination, "/sys") == 0)
        rootless_sys_mount (&c->mounts[i]);
      else
        drop_id_options (c->mounts[i].options);
    }
  /* No cgroup settings: an unprivileged user may not own a cgroup. */
  oci_resources_release (&l->resources);
}

struct oci_config *
oci_config_default (bool rootless, uid_t uid, gid_t gid)
{
  hull_error_t err = NULL;
  struct oci_config *c
      = oci_config_parse (default_config, sizeof (default_config) - 1, "default config", &err);
  if (c == NULL)
    {
      /* Only a bug in the template above can get here. */
      fprintf (stderr, "hull: %s\n", err->msg);
      abort ();
    }
  if (rootless)
    to_rootless (c, uid, gid);
  return c;
}
