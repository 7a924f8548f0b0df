/* Unit tests for oci/: config.json, process.json, resources, state and
 * features.  Run under ASan+LSan: every parse, failed or not, is freed. */
#include "../../oci/oci-internal.h"
#include "unit.h"

#include <sched.h>
#include <sys/resource.h>

/* tests/fuzz/corpus/oci_config/full.json: every field of the spec hull parses. */
static const char full_config[]
    = "{\n"
      "  \"ociVersion\": \"1.2.0\",\n"
      "  \"process\": {\n"
      "    \"terminal\": true,\n"
      "    \"consoleSize\": { \"height\": 24, \"width\": 80 },\n"
      "    \"user\": { \"uid\": 1000, \"gid\": 1001, \"umask\": 18, \"additionalGids\": [5, 4294967295], "
      "\"username\": \"u\" },\n"
      "    \"args\": [\"sh\", \"-c\", \"echo hi\"],\n"
      "    \"commandLine\": \"sh -c \\\"echo hi\\\"\",\n"
      "    \"env\": [\"PATH=/usr/bin:/bin\", \"EMPTY=\", \"TERM=xterm\"],\n"
      "    \"cwd\": \"/work\",\n"
      "    \"capabilities\": {\n"
      "      \"bounding\": [\"CAP_KILL\", \"CAP_CHOWN\"],\n"
      "      \"effective\": [\"CAP_KILL\"],\n"
      "      \"inheritable\": [],\n"
      "      \"permitted\": [\"CAP_KILL\", \"CAP_CHOWN\"],\n"
      "      \"ambient\": [\"CAP_KILL\"]\n"
      "    },\n"
      "    \"rlimits\": [\n"
      "      { \"type\": \"RLIMIT_NOFILE\", \"soft\": 1024, \"hard\": 2048 },\n"
      "      { \"type\": \"RLIMIT_CORE\", \"soft\": 0, \"hard\": 18446744073709551615 }\n"
      "    ],\n"
      "    \"noNewPrivileges\": true,\n"
      "    \"apparmorProfile\": \"hull-default\",\n"
      "    \"oomScoreAdj\": -500,\n"
      "    \"selinuxLabel\": \"system_u:system_r:container_t:s0\",\n"
      "    \"ioPriority\": { \"class\": \"IOPRIO_CLASS_BE\", \"priority\": 4 },\n"
      "    \"scheduler\": {\n"
      "      \"policy\": \"SCHED_DEADLINE\", \"nice\": -5, \"priority\": 10, \"flags\": "
      "[\"SCHED_FLAG_RESET_ON_FORK\"],\n"
      "      \"runtime\": 100000, \"deadline\": 200000, \"period\": 300000\n"
      "    },\n"
      "    \"execCPUAffinity\": { \"initial\": \"0-1\", \"final\": \"2\" },\n"
      "    \"unknownProcessKey\": { \"ignored\": [1, 2, 3] }\n"
      "  },\n"
      "  \"root\": { \"path\": \"rootfs\", \"readonly\": true },\n"
      "  \"hostname\": \"box\",\n"
      "  \"domainname\": \"example.org\",\n"
      "  \"mounts\": [\n"
      "    { \"destination\": \"/proc\", \"type\": \"proc\", \"source\": \"proc\" },\n"
      "    {\n"
      "      \"destination\": \"/data\", \"type\": \"bind\", \"source\": \"/srv/data\", \"options\": "
      "[\"rbind\", \"ro\", \"idmap\"],\n"
      "      \"uidMappings\": [{ \"containerID\": 0, \"hostID\": 100000, \"size\": 65536 }],\n"
      "      \"gidMappings\": [{ \"containerID\": 0, \"hostID\": 200000, \"size\": 1000 }]\n"
      "    },\n"
      "    { \"destination\": \"/tmp\" }\n"
      "  ],\n"
      "  \"hooks\": {\n"
      "    \"prestart\": [{ \"path\": \"/usr/bin/pre\", \"args\": [\"pre\", \"a\"], \"env\": [\"K=V\"], "
      "\"timeout\": 5 }],\n"
      "    \"createRuntime\": [{ \"path\": \"/usr/bin/cr\" }],\n"
      "    \"createContainer\": [{ \"path\": \"/usr/bin/cc\", \"args\": [\"cc\"] }],\n"
      "    \"startContainer\": [{ \"path\": \"/usr/bin/sc\" }],\n"
      "    \"poststart\": [{ \"path\": \"/usr/bin/ps1\" }, { \"path\": \"/usr/bin/ps2\", \"timeout\": 1 }],\n"
      "    \"poststop\": [{ \"path\": \"/usr/bin/post\", \"env\": [] }]\n"
      "  },\n"
      "  \"annotations\": { \"com.example.key\": \"value\", \"io.hull.isolation\": \"vm\" },\n"
      "  \"linux\": {\n"
      "    \"namespaces\": [\n"
      "      { \"type\": \"pid\" }, { \"type\": \"network\", \"path\": \"/var/run/netns/x\" }, { \"type\": "
      "\"mount\" },\n"
      "      { \"type\": \"ipc\" }, { \"type\": \"uts\" }, { \"type\": \"user\" }, { \"type\": \"cgroup\" }, "
      "{ \"type\": \"time\" }\n"
      "    ],\n"
      "    \"uidMappings\": [{ \"containerID\": 0, \"hostID\": 1000, \"size\": 1 }, { \"containerID\": 1, "
      "\"hostID\": 100000, \"size\": 65535 }],\n"
      "    \"gidMappings\": [{ \"containerID\": 0, \"hostID\": 1000, \"size\": 1 }],\n"
      "    \"timeOffsets\": { \"monotonic\": { \"secs\": -172800, \"nanosecs\": 5 }, \"boottime\": { "
      "\"secs\": 604800, \"nanosecs\": 0 } },\n"
      "    \"devices\": [\n"
      "      { \"path\": \"/dev/fuse\", \"type\": \"c\", \"major\": 10, \"minor\": 229, \"fileMode\": 438, "
      "\"uid\": 0, \"gid\": 0 },\n"
      "      { \"path\": \"/dev/sda\", \"type\": \"b\", \"major\": 8, \"minor\": 0 },\n"
      "      { \"path\": \"/dev/fifo\", \"type\": \"p\" }\n"
      "    ],\n"
      "    \"cgroupsPath\": \"/hull/box\",\n"
      "    \"resources\": {\n"
      "      \"devices\": [\n"
      "        { \"allow\": false, \"access\": \"rwm\" },\n"
      "        { \"allow\": true, \"type\": \"c\", \"major\": 10, \"minor\": 229, \"access\": \"rw\" },\n"
      "        { \"allow\": true, \"type\": \"b\", \"major\": -1, \"minor\": -1, \"access\": \"m\" }\n"
      "      ],\n"
      "      \"memory\": {\n"
      "        \"limit\": 536870912, \"reservation\": 268435456, \"swap\": -1, \"kernel\": -1, "
      "\"kernelTCP\": 1024,\n"
      "        \"swappiness\": 60, \"disableOOMKiller\": false, \"useHierarchy\": true, "
      "\"checkBeforeUpdate\": true\n"
      "      },\n"
      "      \"cpu\": {\n"
      "        \"shares\": 1024, \"quota\": 50000, \"burst\": 10000, \"period\": 100000, "
      "\"realtimeRuntime\": 950000,\n"
      "        \"realtimePeriod\": 1000000, \"cpus\": \"0-3\", \"mems\": \"0\", \"idle\": 1\n"
      "      },\n"
      "      \"pids\": { \"limit\": 9223372036854775807 },\n"
      "      \"blockIO\": {\n"
      "        \"weight\": 500, \"leafWeight\": 300,\n"
      "        \"weightDevice\": [{ \"major\": 8, \"minor\": 0, \"weight\": 600, \"leafWeight\": 65535 }, { "
      "\"major\": 8, \"minor\": 16 }],\n"
      "        \"throttleReadBpsDevice\": [{ \"major\": 8, \"minor\": 0, \"rate\": 18446744073709551615 }],\n"
      "        \"throttleWriteBpsDevice\": [{ \"major\": 8, \"minor\": 1, \"rate\": 2 }],\n"
      "        \"throttleReadIOPSDevice\": [{ \"major\": 8, \"minor\": 2, \"rate\": 3 }],\n"
      "        \"throttleWriteIOPSDevice\": [{ \"major\": 8, \"minor\": 3, \"rate\": 4 }]\n"
      "      },\n"
      "      \"hugepageLimits\": [{ \"pageSize\": \"2MB\", \"limit\": 9223372036854772000 }, { \"pageSize\": "
      "\"1GB\", \"limit\": 0 }],\n"
      "      \"network\": { \"classID\": 1048577, \"priorities\": [{ \"name\": \"eth0\", \"priority\": 500 "
      "}, { \"name\": \"lo\", \"priority\": 0 }] },\n"
      "      \"rdma\": { \"mlx5_1\": { \"hcaHandles\": 3, \"hcaObjects\": 10000 }, \"mlx4_0\": { "
      "\"hcaObjects\": 1 } },\n"
      "      \"unified\": { \"memory.high\": \"max\", \"io.weight\": \"default 100\" }\n"
      "    },\n"
      "    \"rootfsPropagation\": \"rslave\",\n"
      "    \"seccomp\": {\n"
      "      \"defaultAction\": \"SCMP_ACT_ERRNO\",\n"
      "      \"defaultErrnoRet\": 1,\n"
      "      \"architectures\": [\"SCMP_ARCH_X86_64\", \"SCMP_ARCH_X86\", \"SCMP_ARCH_X32\"],\n"
      "      \"flags\": [\"SECCOMP_FILTER_FLAG_LOG\", \"SECCOMP_FILTER_FLAG_SPEC_ALLOW\"],\n"
      "      \"listenerPath\": \"/run/seccomp-agent.sock\",\n"
      "      \"listenerMetadata\": \"meta\",\n"
      "      \"syscalls\": [\n"
      "        { \"names\": [\"read\", \"write\"], \"action\": \"SCMP_ACT_ALLOW\" },\n"
      "        { \"names\": [\"mkdir\"], \"action\": \"SCMP_ACT_NOTIFY\" },\n"
      "        { \"names\": [\"ptrace\"], \"action\": \"SCMP_ACT_ERRNO\", \"errnoRet\": 38 },\n"
      "        {\n"
      "          \"names\": [\"personality\"], \"action\": \"SCMP_ACT_ALLOW\",\n"
      "          \"args\": [\n"
      "            { \"index\": 0, \"value\": 18446744073709551615, \"op\": \"SCMP_CMP_EQ\" },\n"
      "            { \"index\": 5, \"value\": 255, \"valueTwo\": 8, \"op\": \"SCMP_CMP_MASKED_EQ\" }\n"
      "          ]\n"
      "        }\n"
      "      ]\n"
      "    },\n"
      "    \"sysctl\": { \"net.ipv4.ip_forward\": \"1\", \"kernel.shm_rmid_forced\": \"1\" },\n"
      "    \"maskedPaths\": [\"/proc/kcore\", \"/sys/firmware\"],\n"
      "    \"readonlyPaths\": [\"/proc/sys\"],\n"
      "    \"mountLabel\": \"system_u:object_r:container_file_t:s0\",\n"
      "    \"personality\": { \"domain\": \"LINUX32\", \"flags\": [] },\n"
      "    \"intelRdt\": { \"closID\": \"guaranteed\", \"l3CacheSchema\": \"L3:0=7f0\", \"memBwSchema\": "
      "\"MB:0=20\", \"enableCMT\": true, \"enableMBM\": true }\n"
      "  },\n"
      "  \"windows\": { \"ignored\": true },\n"
      "  \"vm\": { \"hypervisor\": { \"path\": \"/ignored\" } }\n"
      "}\n";

static struct oci_config *
parse (const char *json, hull_error_t *err)
{
  return oci_config_parse (json, strlen (json), "config.json", err);
}

static char *
roundtrip_text (const char *json, bool pretty)
{
  hull_error_t err = NULL;
  struct oci_config *c = parse (json, &err);
  if (c == NULL)
    {
      fprintf (stderr, "  parse: %s\n", err->msg);
      hull_error_release (&err);
      return NULL;
    }
  char *out = oci_config_to_json (c, pretty);
  oci_config_free (c);
  return out;
}

TEST (full_config_process)
{
  hull_error_t err = NULL;
  struct oci_config *c = parse (full_config, &err);
  CHECK (c != NULL);
  struct oci_process *p = c->process;
  CHECK_STR (c->oci_version, "1.2.0");
  CHECK (p->terminal && p->has_console_size && p->console_height == 24 && p->console_width == 80);
  CHECK (p->user.uid == 1000 && p->user.gid == 1001 && p->user.umask.set && p->user.umask.v == 18);
  CHECK (p->user.n_additional_gids == 2 && p->user.additional_gids[1] == 4294967295u);
  CHECK_STR (p->user.username, "u");
  CHECK (strv_len (p->args) == 3);
  CHECK_STR (p->args[2], "echo hi");
  CHECK_STR (p->command_line, "sh -c \"echo hi\"");
  CHECK (strv_len (p->env) == 3);
  CHECK_STR (p->env[1], "EMPTY=");
  CHECK_STR (p->cwd, "/work");
  CHECK (strv_len (p->capabilities->bounding) == 2 && p->capabilities->inheritable != NULL
         && p->capabilities->inheritable[0] == NULL);
  CHECK_STR (p->capabilities->ambient[0], "CAP_KILL");
  CHECK (p->n_rlimits == 2 && p->rlimits[0].resource == RLIMIT_NOFILE && p->rlimits[0].soft == 1024
         && p->rlimits[0].hard == 2048);
  CHECK (p->rlimits[1].resource == RLIMIT_CORE && p->rlimits[1].hard == UINT64_MAX);
  CHECK (p->no_new_privileges);
  CHECK_STR (p->apparmor_profile, "hull-default");
  CHECK (p->oom_score_adj.set && p->oom_score_adj.v == -500);
  CHECK_STR (p->selinux_label, "system_u:system_r:container_t:s0");
  CHECK (p->io_priority->class_value == 2 && p->io_priority->priority == 4);
  CHECK (p->scheduler->policy_value == 6 && p->scheduler->nice.v == -5 && p->scheduler->priority.v == 10);
  CHECK (p->scheduler->runtime.v == 100000 && p->scheduler->deadline.v == 200000
         && p->scheduler->period.v == 300000);
  CHECK_STR (p->scheduler->flags[0], "SCHED_FLAG_RESET_ON_FORK");
  CHECK_STR (p->exec_cpu_affinity->initial, "0-1");
  CHECK_STR (p->exec_cpu_affinity->final, "2");
  oci_config_free (c);
}

TEST (full_config_top)
{
  hull_error_t err = NULL;
  struct oci_config *c = parse (full_config, &err);
  CHECK (c != NULL);
  CHECK_STR (c->root->path, "rootfs");
  CHECK (c->root->readonly);
  CHECK_STR (c->hostname, "box");
  CHECK_STR (c->domainname, "example.org");
  CHECK (c->n_mounts == 3);
  CHECK_STR (c->mounts[1].source, "/srv/data");
  CHECK_STR (c->mounts[1].options[2], "idmap");
  CHECK (c->mounts[1].n_uid_mappings == 1 && c->mounts[1].uid_mappings[0].host_id == 100000);
  CHECK (c->mounts[1].gid_mappings[0].size == 1000);
  CHECK (c->mounts[2].type == NULL && c->mounts[2].source == NULL && c->mounts[2].options == NULL);
  for (int k = 0; k < OCI_HOOK_KINDS; k++)
    CHECK (c->hooks[k].n >= 1);
  CHECK (c->hooks[OCI_HOOK_PRESTART].v[0].timeout.set && c->hooks[OCI_HOOK_PRESTART].v[0].timeout.v == 5);
  CHECK_STR (c->hooks[OCI_HOOK_PRESTART].v[0].env[0], "K=V");
  CHECK (c->hooks[OCI_HOOK_POSTSTART].n == 2);
  CHECK_STR (c->hooks[OCI_HOOK_POSTSTART].v[1].path, "/usr/bin/ps2");
  CHECK_STR (oci_kvs_get (&c->annotations, "io.hull.isolation"), "vm");
  CHECK (oci_kvs_get (&c->annotations, "nope") == NULL);
  oci_config_free (c);
}

TEST (full_config_linux)
{
  hull_error_t err = NULL;
  struct oci_config *c = parse (full_config, &err);
  CHECK (c != NULL);
  struct oci_linux *l = c->linux_;
  CHECK (l->n_namespaces == 8 && l->namespaces[7].type == OCI_NS_TIME);
  CHECK_STR (l->namespaces[1].path, "/var/run/netns/x");
  CHECK (oci_config_namespace (c, OCI_NS_PID) == &l->namespaces[0]);
  CHECK (oci_config_namespace (c, OCI_NS_NETWORK) == NULL);
  CHECK (oci_config_namespace_entry (c, OCI_NS_NETWORK) == &l->namespaces[1]);
  CHECK (oci_ns_clone_flag (OCI_NS_USER) == CLONE_NEWUSER);
  CHECK (l->n_uid_mappings == 2 && l->uid_mappings[1].size == 65535 && l->n_gid_mappings == 1);
  CHECK (l->has_time_offsets && l->has_time_monotonic && l->time_monotonic.secs == -172800
         && l->time_monotonic.nanosecs == 5 && l->time_boottime.secs == 604800);
  CHECK (l->n_devices == 3 && l->devices[0].type == 'c' && l->devices[0].major == 10
         && l->devices[0].minor == 229);
  CHECK (l->devices[0].file_mode.set && l->devices[0].file_mode.v == 438 && l->devices[0].uid.set);
  CHECK (l->devices[2].type == 'p' && !l->devices[1].file_mode.set);
  CHECK_STR (l->cgroups_path, "/hull/box");
  CHECK (l->rootfs_propagation == OCI_PROPAGATION_SLAVE && l->rootfs_propagation_recursive);
  CHECK_STR (oci_kvs_get (&l->sysctl, "net.ipv4.ip_forward"), "1");
  CHECK (strv_len (l->masked_paths) == 2 && strv_len (l->readonly_paths) == 1);
  CHECK_STR (l->mount_label, "system_u:object_r:container_file_t:s0");
  CHECK_STR (l->personality->domain, "LINUX32");
  CHECK (l->personality->flags && l->personality->flags[0] == NULL);
  CHECK_STR (l->intel_rdt->clos_id, "guaranteed");
  CHECK_STR (l->intel_rdt->mem_bw_schema, "MB:0=20");
  CHECK (l->intel_rdt->enable_cmt && l->intel_rdt->enable_mbm);
  oci_config_free (c);
}

TEST (full_config_resources)
{
  hull_error_t err = NULL;
  struct oci_config *c = parse (full_config, &err);
  CHECK (c != NULL);
  struct oci_resources *r = &c->linux_->resources;
  CHECK (r->present && r->n_devices == 3);
  CHECK (!r->devices[0].allow && r->devices[0].type == 'a' && !r->devices[0].major.set);
  CHECK (r->devices[1].type == 'c' && r->devices[1].major.v == 10);
  CHECK_STR (r->devices[1].access, "rw");
  CHECK (r->devices[2].major.set && r->devices[2].major.v == -1);
  CHECK (r->memory.limit.v == 536870912 && r->memory.swap.v == -1 && r->memory.kernel_tcp.v == 1024);
  CHECK (r->memory.swappiness.v == 60 && r->memory.disable_oom_killer.set && !r->memory.disable_oom_killer.v);
  CHECK (r->memory.use_hierarchy.v && r->memory.check_before_update.v);
  CHECK (r->cpu.shares.v == 1024 && r->cpu.quota.v == 50000 && r->cpu.burst.v == 10000
         && r->cpu.period.v == 100000);
  CHECK (r->cpu.realtime_runtime.v == 950000 && r->cpu.realtime_period.v == 1000000 && r->cpu.idle.v == 1);
  CHECK_STR (r->cpu.cpus, "0-3");
  CHECK (r->pids.limit.set && r->pids.limit.v == INT64_MAX);
  CHECK (r->block_io.weight.v == 500 && r->block_io.leaf_weight.v == 300 && r->block_io.n_weight_device == 2);
  CHECK (r->block_io.weight_device[0].leaf_weight.v == 65535 && !r->block_io.weight_device[1].weight.set);
  CHECK (r->block_io.n_throttle_read_bps == 1 && r->block_io.throttle_read_bps[0].rate == UINT64_MAX);
  CHECK (r->block_io.throttle_write_iops[0].minor == 3 && r->block_io.throttle_read_iops[0].rate == 3);
  CHECK (r->n_hugepage_limits == 2 && r->hugepage_limits[0].limit == 9223372036854772000ull);
  CHECK (r->network.class_id.v == 1048577 && r->network.n_priorities == 2);
  CHECK_STR (r->network.priorities[0].key, "eth0");
  CHECK_STR (r->network.priorities[0].value, "500");
  CHECK (r->n_rdma == 2 && r->rdma[0].hca_handles.v == 3 && !r->rdma[1].hca_handles.set);
  CHECK_STR (r->rdma[1].device, "mlx4_0");
  CHECK_STR (oci_kvs_get (&r->unified, "io.weight"), "default 100");
  oci_config_free (c);
}

TEST (full_config_seccomp)
{
  hull_error_t err = NULL;
  struct oci_config *c = parse (full_config, &err);
  CHECK (c != NULL);
  struct oci_seccomp *s = c->linux_->seccomp;
  CHECK_STR (s->default_action, "SCMP_ACT_ERRNO");
  CHECK (s->default_errno_ret.set && s->default_errno_ret.v == 1);
  CHECK (strv_len (s->architectures) == 3 && strv_len (s->flags) == 2);
  CHECK_STR (s->listener_path, "/run/seccomp-agent.sock");
  CHECK_STR (s->listener_metadata, "meta");
  CHECK (s->n_syscalls == 4 && s->syscalls[2].errno_ret.v == 38);
  CHECK (s->syscalls[3].n_args == 2 && s->syscalls[3].args[0].value == UINT64_MAX);
  CHECK (s->syscalls[3].args[1].index == 5 && s->syscalls[3].args[1].value_two == 8
         && s->syscalls[3].args[1].op == OCI_SCMP_CMP_MASKED_EQ);
  oci_config_free (c);
}

/* parse -> print -> parse -> print must give the same text, and no field
 * of the full config may be lost on the way. */
TEST (roundtrip_lossless)
{
  for (int pretty = 0; pretty <= 1; pretty++)
    {
      char *a = roundtrip_text (full_config, pretty);
      CHECK (a != NULL);
      char *b = roundtrip_text (a, pretty);
      int same = b && strcmp (a, b) == 0;
      if (!same)
        fprintf (stderr, "  first:\n%s\n  second:\n%s\n", a, b ? b : "(null)");
      free (b);
      static const char *const keys[] = {
        "consoleSize",
        "umask",
        "additionalGids",
        "username",
        "commandLine",
        "inheritable",
        "ambient",
        "apparmorProfile",
        "oomScoreAdj",
        "selinuxLabel",
        "ioPriority",
        "scheduler",
        "deadline",
        "execCPUAffinity",
        "domainname",
        "uidMappings",
        "createRuntime",
        "startContainer",
        "timeout",
        "timeOffsets",
        "nanosecs",
        "fileMode",
        "kernelTCP",
        "checkBeforeUpdate",
        "burst",
        "idle",
        "realtimeRuntime",
        "leafWeight",
        "throttleWriteIOPSDevice",
        "hugepageLimits",
        "classID",
        "priorities",
        "hcaObjects",
        "unified",
        "\"rslave\"",
        "defaultErrnoRet",
        "listenerMetadata",
        "valueTwo",
        "18446744073709551615",
        "9223372036854775807",
        "SCMP_CMP_MASKED_EQ",
        "mountLabel",
        "LINUX32",
        "enableMBM",
        "l3CacheSchema",
        "\"/var/run/netns/x\"",
        "\"inheritable\": [",
        "\"flags\": [",
      };
      for (size_t i = 0; pretty && i < sizeof (keys) / sizeof (keys[0]); i++)
        CHECK_CONTAINS (a, keys[i]);
      CHECK (strstr (a, "unknownProcessKey") == NULL && strstr (a, "windows") == NULL);
      free (a);
      CHECK (same);
    }
}

TEST (truncated_inputs)
{
  size_t len = strlen (full_config);
  for (size_t n = 0; n < len - 1; n++)
    {
      hull_error_t err = NULL;
      struct oci_config *c = oci_config_parse (full_config, n, "config.json", &err);
      if (c != NULL)
        fprintf (stderr, "  prefix %zu parsed\n", n);
      CHECK (c == NULL);
      CHECK (hull_str_has_prefix (err->msg, n == 0 ? "config.json: " : "config.json: line "));
      hull_error_release (&err);
    }
}

struct bad_case
{
  const char *json;
  const char *msg;
};

#define PRE "{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"rootfs\"},"
#define PROC(x) PRE "\"process\":{\"cwd\":\"/\",\"args\":[\"sh\"]," x "}}"
#define LINUX(x) PRE "\"linux\":{" x "}}"
#define RES(x) LINUX ("\"resources\":{" x "}")
#define SECCOMP(x) LINUX ("\"seccomp\":{" x "}")

static const struct bad_case bad_cases[] = {
  /* JSON itself */
  { "", "config.json: empty document" },
  { "{\"ociVersion\": \"1.0.0\",\n \"root\": {\"path\": \"r\"},\n \"hostname\": x}",
    "config.json: line 3: lexical error" },
  { "{\n\"ociVersion\": \"1.0.0\",\n", "config.json: line 3: parse error: premature EOF" },
  { "{\"a\":1,\"a\":2}", "config.json: line 1: duplicate key \"a\"" },
  { "{\"ociVersion\":\"1.0.0\\u0000x\"}", "string contains a NUL character" },
  { "{\"a\":[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[[]]]]]]]]]]]]]]]]]]]]]]]]"
    "]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]]}",
    "nesting too deep" },
  { "{} {}", "config.json: line 1: parse error: trailing garbage" },
  { "[]", "config.json: expected an object, got an array" },
  { "{\"ociVersion\":\"1.0.0\",\"root\":{\"path\":\"r\"},\"annotations\":{\"com.example\":1}}",
    "config.json: annotations[\"com.example\"]: expected a string, got a number" },
  /* version and root */
  { "{\"root\":{\"path\":\"r\"}}", "config.json: ociVersion: required field missing" },
  { "{\"ociVersion\":1,\"root\":{\"path\":\"r\"}}",
    "config.json: ociVersion: expected a string, got a number" },
  { "{\"ociVersion\":\"2.0.0\",\"root\":{\"path\":\"r\"}}",
    "config.json: ociVersion: unsupported major version \"2.0.0\" (want 1.x)" },
  { "{\"ociVersion\":\"0.5.0-dev\",\"root\":{\"path\":\"r\"}}",
    "ociVersion: unsupported major version \"0.5.0-dev\"" },
  { "{\"ociVersion\":\"one\",\"root\":{\"path\":\"r\"}}",
    "config.json: ociVersion: invalid version \"one\"" },
  { "{\"ociVersion\":\"1.0\",\"root\":{\"path\":\"r\"}}",
    "config.json: ociVersion: invalid version \"1.0\"" },
  { "{\"ociVersion\":\"1.0.0\"}", "config.json: root: required field missing" },
  { "{\"ociVersion\":\"1.0.0\",\"root\":{}}", "config.json: root.path: required field missing" },
  { "{\"ociVersion\":\"1.0.0\",\"root\":[]}", "config.json: root: expected an object, got an array" },
  { PRE "\"hostname\":true}", "config.json: hostname: expected a string, got a boolean" },
  /* process */
  { PRE "\"process\":[]}", "config.json: process: expected an object, got an array" },
  { PRE "\"process\":{\"args\":[\"a\",1],\"cwd\":\"/\"}}",
    "config.json: process.args[1]: expected a string, got a number" },
  { PRE "\"process\":{\"args\":[\"a\"]}}", "config.json: process.cwd: required field missing" },
  { PRE "\"process\":{\"args\":[\"a\"],\"cwd\":\"tmp\"}}",
    "config.json: process.cwd: \"tmp\" is not an absolute path" },
  { PRE "\"process\":{\"cwd\":\"/\"}}", "config.json: process.args: required field missing" },
  { PRE "\"process\":{\"cwd\":\"/\",\"args\":[]}}", "config.json: process.args: must not be empty" },
  { PROC ("\"env\":[\"A=1\",\"B\"]"), "config.json: process.env[1]: \"B\" is not of the form NAME=VALUE" },
  { PROC ("\"env\":[\"=x\"]"), "process.env[0]: \"=x\" is not of the form" },
  { PROC ("\"terminal\":\"yes\""), "config.json: process.terminal: expected a boolean, got a string" },
  { PROC ("\"user\":{\"uid\":-1}"), "config.json: process.user.uid: -1 is out of range (0..4294967295)" },
  { PROC ("\"user\":{\"uid\":4294967296}"), "config.json: process.user.uid: 4294967296 is out of range" },
  { PROC ("\"user\":{\"gid\":1.5}"), "config.json: process.user.gid: expected an integer, got 1.5" },
  { PROC ("\"user\":{\"gid\":1e3}"), "config.json: process.user.gid: expected an integer, got 1e3" },
  { PROC ("\"user\":{\"uid\":\"0\"}"), "config.json: process.user.uid: expected an integer, got a string" },
  { PROC ("\"user\":{\"additionalGids\":[1,-2]}"),
    "config.json: process.user.additionalGids[1]: -2 is out of range" },
  { PROC ("\"consoleSize\":{\"height\":1}"),
    "config.json: process.consoleSize.width: required field missing" },
  { PROC ("\"capabilities\":{\"bounding\":\"CAP_KILL\"}"),
    "config.json: process.capabilities.bounding: expected an array, got a string" },
  { PROC ("\"rlimits\":[{\"type\":\"RLIMIT_FOO\",\"soft\":1,\"hard\":1}]"),
    "config.json: process.rlimits[0].type: unknown rlimit \"RLIMIT_FOO\"" },
  { PROC ("\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":1,\"hard\":1},{\"type\":\"RLIMIT_NOFILE\","
          "\"soft\":1,\"hard\":1}]"),
    "config.json: process.rlimits[1].type: duplicate rlimit \"RLIMIT_NOFILE\"" },
  { PROC ("\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":1}]"),
    "config.json: process.rlimits[0].hard: required field missing" },
  { PROC ("\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":-1,\"hard\":1}]"),
    "process.rlimits[0].soft: -1 is out of range" },
  { PROC ("\"rlimits\":[{\"type\":\"RLIMIT_NOFILE\",\"soft\":18446744073709551616,\"hard\":1}]"),
    "process.rlimits[0].soft: 18446744073709551616 is out of range" },
  { PROC ("\"rlimits\":[1]"), "config.json: process.rlimits[0]: expected an object, got a number" },
  { PROC ("\"oomScoreAdj\":1001"), "config.json: process.oomScoreAdj: 1001 is out of range (-1000..1000)" },
  { PROC ("\"ioPriority\":{\"class\":\"IOPRIO_CLASS_FOO\",\"priority\":1}"),
    "config.json: process.ioPriority.class: unknown I/O priority class \"IOPRIO_CLASS_FOO\"" },
  { PROC ("\"ioPriority\":{\"class\":\"IOPRIO_CLASS_RT\",\"priority\":8}"),
    "config.json: process.ioPriority.priority: 8 is out of range (0..7)" },
  { PROC ("\"scheduler\":{\"policy\":\"SCHED_FOO\"}"),
    "config.json: process.scheduler.policy: unknown scheduler policy \"SCHED_FOO\"" },
  { PROC ("\"scheduler\":{\"policy\":\"SCHED_OTHER\",\"nice\":20}"),
    "config.json: process.scheduler.nice: 20 is out of range (-20..19)" },
  { PROC ("\"scheduler\":{\"policy\":\"SCHED_OTHER\",\"flags\":[\"SCHED_FLAG_X\"]}"),
    "config.json: process.scheduler.flags[0]: unknown scheduler flag \"SCHED_FLAG_X\"" },
  /* mounts and hooks */
  { PRE "\"mounts\":[{\"destination\":\"/a\"},{\"destination\":\"b\"}]}",
    "config.json: mounts[1].destination: \"b\" is not an absolute path" },
  { PRE "\"mounts\":[{\"type\":\"tmpfs\"}]}", "config.json: mounts[0].destination: required field missing" },
  { PRE "\"mounts\":[{\"destination\":\"/a\",\"options\":[\"ro\",null]}]}",
    "config.json: mounts[0].options[1]: expected a string, got null" },
  { PRE
    "\"mounts\":[{\"destination\":\"/a\",\"uidMappings\":[{\"containerID\":0,\"hostID\":1,\"size\":0}]}]}",
    "config.json: mounts[0].uidMappings[0].size: must be greater than zero" },
  { PRE "\"mounts\":{}}", "config.json: mounts: expected an array, got an object" },
  { PRE "\"hooks\":{\"prestart\":[{\"path\":\"hook\"}]}}",
    "config.json: hooks.prestart[0].path: \"hook\" is not an absolute path" },
  { PRE "\"hooks\":{\"poststop\":[{\"path\":\"/h\"},{\"path\":\"/h\",\"timeout\":0}]}}",
    "config.json: hooks.poststop[1].timeout: must be greater than zero" },
  { PRE "\"hooks\":{\"createRuntime\":[{\"args\":[]}]}}",
    "config.json: hooks.createRuntime[0].path: required field missing" },
  /* linux */
  { LINUX ("\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"uts\"},{\"type\":\"foo\"}]"),
    "config.json: linux.namespaces[2].type: unknown namespace type \"foo\"" },
  { LINUX ("\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"pid\",\"path\":\"/proc/1/ns/pid\"}]"),
    "config.json: linux.namespaces[1].type: duplicate namespace \"pid\"" },
  { LINUX ("\"namespaces\":[{\"type\":\"net\"}]"),
    "linux.namespaces[0].type: unknown namespace type \"net\"" },
  { LINUX ("\"namespaces\":[{\"type\":\"network\",\"path\":\"netns\"}]"),
    "config.json: linux.namespaces[0].path: \"netns\" is not an absolute path" },
  { LINUX ("\"uidMappings\":[{\"containerID\":0,\"hostID\":1000,\"size\":0}]"),
    "config.json: linux.uidMappings[0].size: must be greater than zero" },
  { LINUX ("\"gidMappings\":[{\"containerID\":0,\"size\":1}]"),
    "config.json: linux.gidMappings[0].hostID: required field missing" },
  { LINUX ("\"uidMappings\":[{\"containerID\":4294967295,\"hostID\":0,\"size\":2}]"),
    "config.json: linux.uidMappings[0].size: 2 is out of range" },
  { LINUX ("\"timeOffsets\":{\"monotonic\":{\"secs\":1,\"nanosecs\":1000000000}}"),
    "config.json: linux.timeOffsets.monotonic.nanosecs: 1000000000 is out of range" },
  { LINUX ("\"timeOffsets\":{\"realtime\":{\"secs\":1}}"),
    "config.json: linux.timeOffsets.realtime: unknown clock" },
  { LINUX ("\"devices\":[{\"type\":\"x\",\"path\":\"/dev/x\"}]"),
    "config.json: linux.devices[0].type: unknown device type \"x\"" },
  { LINUX ("\"devices\":[{\"type\":\"c\",\"path\":\"/dev/x\",\"minor\":1}]"),
    "config.json: linux.devices[0].major: required field missing" },
  { LINUX ("\"devices\":[{\"type\":\"u\",\"path\":\"/dev/x\",\"major\":1}]"),
    "config.json: linux.devices[0].minor: required field missing" },
  { LINUX ("\"devices\":[{\"type\":\"p\",\"path\":\"dev/x\"}]"),
    "config.json: linux.devices[0].path: \"dev/x\" is not an absolute path" },
  { LINUX ("\"devices\":[{\"type\":\"b\",\"path\":\"/dev/x\",\"major\":-1,\"minor\":0}]"),
    "linux.devices[0].major: -1 is out of range" },
  { LINUX ("\"rootfsPropagation\":\"bogus\""),
    "config.json: linux.rootfsPropagation: unknown propagation \"bogus\"" },
  { LINUX ("\"sysctl\":{\"net.ipv4.ip_forward\":1}"),
    "config.json: linux.sysctl[\"net.ipv4.ip_forward\"]: expected a string, got a number" },
  { LINUX ("\"maskedPaths\":[\"/proc/kcore\",\"proc/keys\"]"),
    "config.json: linux.maskedPaths[1]: \"proc/keys\" is not an absolute path" },
  { LINUX ("\"readonlyPaths\":[\"x\"]"),
    "config.json: linux.readonlyPaths[0]: \"x\" is not an absolute path" },
  { LINUX ("\"personality\":{\"domain\":\"LINUX64\"}"),
    "config.json: linux.personality.domain: unknown personality domain \"LINUX64\"" },
  { LINUX ("\"intelRdt\":{\"enableCMT\":1}"),
    "config.json: linux.intelRdt.enableCMT: expected a boolean, got a number" },
  /* resources */
  { RES ("\"pids\":{\"limit\":99999999999999999999}"),
    "config.json: linux.resources.pids.limit: 99999999999999999999 is out of range" },
  { RES ("\"devices\":[{\"allow\":true,\"type\":\"z\"}]"),
    "config.json: linux.resources.devices[0].type: unknown device rule type \"z\"" },
  { RES ("\"devices\":[{\"allow\":true,\"access\":\"rwx\"}]"),
    "config.json: linux.resources.devices[0].access: invalid access \"rwx\"" },
  { RES ("\"devices\":[{\"allow\":true,\"access\":\"\"}]"),
    "config.json: linux.resources.devices[0].access: invalid access \"\"" },
  { RES ("\"devices\":[{\"access\":\"rwm\"}]"),
    "config.json: linux.resources.devices[0].allow: required field missing" },
  { RES ("\"memory\":{\"limit\":\"1G\"}"),
    "config.json: linux.resources.memory.limit: expected an integer, got a string" },
  { RES ("\"memory\":{\"swappiness\":-1}"),
    "config.json: linux.resources.memory.swappiness: -1 is out of range" },
  { RES ("\"cpu\":{\"shares\":-2}"), "config.json: linux.resources.cpu.shares: -2 is out of range" },
  { RES ("\"cpu\":{\"quota\":9223372036854775808}"),
    "linux.resources.cpu.quota: 9223372036854775808 is out of range" },
  { RES ("\"blockIO\":{\"weight\":65536}"),
    "config.json: linux.resources.blockIO.weight: 65536 is out of range (0..65535)" },
  { RES ("\"blockIO\":{\"throttleReadBpsDevice\":[{\"major\":8,\"minor\":0}]}"),
    "config.json: linux.resources.blockIO.throttleReadBpsDevice[0].rate: required field missing" },
  { RES ("\"hugepageLimits\":[{\"limit\":1}]"),
    "config.json: linux.resources.hugepageLimits[0].pageSize: required field missing" },
  { RES ("\"network\":{\"priorities\":[{\"name\":\"eth0\",\"priority\":-1}]}"),
    "config.json: linux.resources.network.priorities[0].priority: -1 is out of range" },
  { RES ("\"rdma\":{\"mlx5_1\":{\"hcaHandles\":4294967296}}"),
    "config.json: linux.resources.rdma.mlx5_1.hcaHandles: 4294967296 is out of range" },
  { RES ("\"unified\":{\"memory.max\":[]}"),
    "config.json: linux.resources.unified[\"memory.max\"]: expected a string, got an array" },
  /* seccomp */
  { SECCOMP ("\"architectures\":[]"), "config.json: linux.seccomp.defaultAction: required field missing" },
  { SECCOMP ("\"defaultAction\":\"SCMP_ACT_FOO\""),
    "config.json: linux.seccomp.defaultAction: unknown seccomp action \"SCMP_ACT_FOO\"" },
  { SECCOMP ("\"defaultAction\":\"SCMP_ACT_ALLOW\",\"defaultErrnoRet\":1"),
    "config.json: linux.seccomp.defaultErrnoRet: not allowed with SCMP_ACT_ALLOW" },
  { SECCOMP (
        "\"defaultAction\":\"SCMP_ACT_ALLOW\",\"architectures\":[\"SCMP_ARCH_X86_64\",\"SCMP_ARCH_Z80\"]"),
    "config.json: linux.seccomp.architectures[1]: unknown architecture \"SCMP_ARCH_Z80\"" },
  { SECCOMP ("\"defaultAction\":\"SCMP_ACT_ALLOW\",\"flags\":[\"SECCOMP_FILTER_FLAG_X\"]"),
    "config.json: linux.seccomp.flags[0]: unknown seccomp flag \"SECCOMP_FILTER_FLAG_X\"" },
  { SECCOMP ("\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"read\"],\"action\":\"SCMP_ACT_"
             "NOPE\"}]"),
    "config.json: linux.seccomp.syscalls[0].action: unknown seccomp action \"SCMP_ACT_NOPE\"" },
  { SECCOMP (
        "\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[],\"action\":\"SCMP_ACT_KILL\"}]"),
    "config.json: linux.seccomp.syscalls[0].names: must not be empty" },
  { SECCOMP ("\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"a\"],\"action\":\"SCMP_ACT_"
             "KILL\",\"errnoRet\":1}]"),
    "config.json: linux.seccomp.syscalls[0].errnoRet: not allowed with SCMP_ACT_KILL" },
  { SECCOMP ("\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"a\"],\"action\":\"SCMP_ACT_"
             "ERRNO\",\"errnoRet\":65536}]"),
    "config.json: linux.seccomp.syscalls[0].errnoRet: 65536 is out of range" },
  { SECCOMP (
        "\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"a\"],\"action\":\"SCMP_ACT_KILL\","
        "\"args\":[{\"index\":0,\"value\":1,\"op\":\"SCMP_CMP_EQ\"},{\"index\":1,\"value\":1,\"op\":\"SCMP_"
        "CMP_XX\"}]}]"),
    "config.json: linux.seccomp.syscalls[0].args[1].op: unknown seccomp operator \"SCMP_CMP_XX\"" },
  { SECCOMP (
        "\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"a\"],\"action\":\"SCMP_ACT_KILL\","
        "\"args\":[{\"index\":6,\"value\":1,\"op\":\"SCMP_CMP_EQ\"}]}]"),
    "config.json: linux.seccomp.syscalls[0].args[0].index: 6 is out of range (0..5)" },
  { SECCOMP (
        "\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"a\"],\"action\":\"SCMP_ACT_KILL\","
        "\"args\":[{\"index\":0,\"op\":\"SCMP_CMP_EQ\"}]}]"),
    "config.json: linux.seccomp.syscalls[0].args[0].value: required field missing" },
  { SECCOMP ("\"defaultAction\":\"SCMP_ACT_ALLOW\",\"syscalls\":[{\"names\":[\"a\"],\"action\":\"SCMP_ACT_"
             "NOTIFY\"}]"),
    "config.json: linux.seccomp.listenerPath: required when SCMP_ACT_NOTIFY is used" },
};

TEST (bad_inputs)
{
  for (size_t i = 0; i < sizeof (bad_cases) / sizeof (bad_cases[0]); i++)
    {
      hull_error_t err = NULL;
      struct oci_config *c = parse (bad_cases[i].json, &err);
      if (c != NULL || err == NULL || strstr (err->msg, bad_cases[i].msg) == NULL)
        fprintf (stderr, "  case %zu: %s\n    want: %s\n    got:  %s\n", i, bad_cases[i].json,
                 bad_cases[i].msg, err ? err->msg : "(parsed)");
      CHECK (c == NULL);
      CHECK_CONTAINS (err->msg, bad_cases[i].msg);
      CHECK (err->status == 0);
      hull_error_release (&err);
    }
}

TEST (minimal_and_null_fields)
{
  hull_error_t err = NULL;
  struct oci_config *c
      = parse (PRE "\"process\":null,\"hostname\":null,\"linux\":{\"resources\":null}}", &err);
  CHECK (c != NULL);
  CHECK (c->process == NULL && c->hostname == NULL && c->linux_ != NULL && !c->linux_->resources.present);
  CHECK (oci_config_namespace (c, OCI_NS_PID) == NULL);
  oci_config_free (c);
  /* A pre-release of 1.x and unknown keys everywhere are fine. */
  c = parse (
      "{\"ociVersion\":\"1.1.0-rc.3+build\",\"root\":{\"path\":\"r\",\"x\":1},\"solaris\":{},\"y\":[1,{}]}",
      &err);
  CHECK (c != NULL);
  oci_config_free (c);
}

TEST (values_in_messages_are_escaped)
{
  hull_error_t err = NULL;
  struct oci_config *c = parse (LINUX ("\"namespaces\":[{\"type\":\"\\u001b[31mred\\n\"}]"), &err);
  CHECK (c == NULL);
  CHECK_CONTAINS (err->msg, "unknown namespace type \"\\x1b[31mred\\x0a\"");
  hull_error_release (&err);
}

TEST (long_numbers_are_cut_in_messages)
{
  char json[600];
  char digits[301];
  memset (digits, '9', 300);
  digits[300] = '\0';
  snprintf (json, sizeof (json), PROC ("\"user\":{\"uid\":%s}"), digits);
  hull_error_t err = NULL;
  struct oci_config *c = parse (json, &err);
  CHECK (c == NULL);
  CHECK_CONTAINS (
      err->msg, "config.json: process.user.uid: 9999999999999999999999999999999999999999... is out of range");
  CHECK (strlen (err->msg) < 120);
  hull_error_release (&err);
}

TEST (process_json)
{
  hull_error_t err = NULL;
  const char *ok = "{\"args\":[\"ls\"],\"cwd\":\"/tmp\",\"user\":{\"uid\":5},\"env\":[\"A=B\"]}";
  struct oci_process *p = oci_process_parse (ok, strlen (ok), "process.json", &err);
  CHECK (p != NULL);
  CHECK_STR (p->args[0], "ls");
  CHECK (p->user.uid == 5);
  oci_process_free (p);
  const char *bad = "{\"args\":[\"ls\", {}],\"cwd\":\"/tmp\"}";
  p = oci_process_parse (bad, strlen (bad), "process.json", &err);
  CHECK (p == NULL);
  CHECK_STR (err->msg, "process.json: args[1]: expected a string, got an object");
  hull_error_release (&err);
  p = oci_process_parse ("{\"args\":[\"ls\"]}", 15, "process.json", &err);
  CHECK (p == NULL);
  CHECK_STR (err->msg, "process.json: cwd: required field missing");
  hull_error_release (&err);
  p = oci_process_parse ("\"x\"", 3, "process.json", &err);
  CHECK (p == NULL);
  CHECK_STR (err->msg, "process.json: expected an object, got a string");
  hull_error_release (&err);
}

TEST (resources_json)
{
  hull_error_t err = NULL;
  struct oci_resources r;
  const char *ok = "{\"memory\":{\"limit\":1048576},\"pids\":{\"limit\":-1},\"cpu\":{\"cpus\":\"1\"}}";
  CHECK (oci_resources_parse (ok, strlen (ok), "resources.json", &r, &err) == 0);
  CHECK (r.present && r.memory.limit.v == 1048576 && r.pids.limit.v == -1);
  CHECK_STR (r.cpu.cpus, "1");
  oci_resources_release (&r);
  CHECK (!r.present && r.cpu.cpus == NULL);
  const char *bad = "{\"cpu\":{\"cpus\":\"1\"},\"pids\":{\"limit\":1.5}}";
  CHECK (oci_resources_parse (bad, strlen (bad), "resources.json", &r, &err) < 0);
  CHECK_STR (err->msg, "resources.json: pids.limit: expected an integer, got 1.5");
  CHECK (r.cpu.cpus == NULL);
  hull_error_release (&err);
}

TEST (parse_file)
{
  char dir[] = "/tmp/test_oci.XXXXXX";
  CHECK (mkdtemp (dir) != NULL);
  int dfd = open (dir, O_DIRECTORY | O_RDONLY | O_CLOEXEC);
  CHECK (dfd >= 0);
  hull_error_t err = NULL;
  CHECK (hull_write_file_atomic (dfd, "config.json", full_config, strlen (full_config), 0644, &err) == 0);
  struct oci_config *c = oci_config_parse_file (dfd, "config.json", &err);
  CHECK (c != NULL);
  CHECK_STR (c->hostname, "box");
  oci_config_free (c);
  unlinkat (dfd, "config.json", 0);
  c = oci_config_parse_file (dfd, "config.json", &err);
  CHECK (c == NULL && err->status == ENOENT);
  CHECK_CONTAINS (err->msg, "config.json");
  hull_error_release (&err);
  close (dfd);
  rmdir (dir);
}

TEST (default_config)
{
  struct oci_config *c = oci_config_default (false, 0, 0);
  CHECK (c != NULL);
  CHECK_STR (c->process->args[0], "sh");
  CHECK (c->process->terminal && c->process->no_new_privileges);
  CHECK_STR (c->process->env[1], "TERM=xterm");
  CHECK (strv_len (c->process->capabilities->bounding) == 3 && c->process->capabilities->ambient == NULL);
  CHECK (c->process->n_rlimits == 1 && c->process->rlimits[0].resource == RLIMIT_NOFILE);
  CHECK_STR (c->root->path, "rootfs");
  CHECK (c->root->readonly);
  CHECK_STR (c->hostname, "hull");
  CHECK (c->n_mounts == 7);
  CHECK_STR (c->mounts[5].type, "sysfs");
  CHECK_STR (c->mounts[2].options[5], "gid=5");
  CHECK (oci_config_namespace (c, OCI_NS_NETWORK) && oci_config_namespace (c, OCI_NS_CGROUP));
  CHECK (oci_config_namespace (c, OCI_NS_USER) == NULL && c->linux_->n_namespaces == 6);
  CHECK (c->linux_->resources.present && c->linux_->resources.n_devices == 1);
  CHECK (strv_len (c->linux_->masked_paths) == 10 && strv_len (c->linux_->readonly_paths) == 5);
  char *a = oci_config_to_json (c, true);
  oci_config_free (c);
  char *b = roundtrip_text (a, true);
  CHECK_STR (b, a);
  CHECK_CONTAINS (a, "\t\"ociVersion\": \"1.2.0\",\n");
  free (a);
  free (b);
}

TEST (default_config_rootless)
{
  struct oci_config *c = oci_config_default (true, 1000, 1001);
  CHECK (c != NULL);
  struct oci_linux *l = c->linux_;
  CHECK (oci_config_namespace (c, OCI_NS_USER) && oci_config_namespace (c, OCI_NS_NETWORK) == NULL);
  CHECK (l->namespaces[l->n_namespaces - 1].type == OCI_NS_USER);
  CHECK (l->n_uid_mappings == 1 && l->uid_mappings[0].host_id == 1000 && l->uid_mappings[0].container_id == 0
         && l->uid_mappings[0].size == 1);
  CHECK (l->n_gid_mappings == 1 && l->gid_mappings[0].host_id == 1001);
  CHECK (!l->resources.present);
  CHECK_STR (c->mounts[5].destination, "/sys");
  CHECK_STR (c->mounts[5].type, "none");
  CHECK_STR (c->mounts[5].source, "/sys");
  CHECK_STR (c->mounts[5].options[0], "rbind");
  for (size_t i = 0; i < c->n_mounts; i++)
    for (size_t j = 0; c->mounts[i].options && c->mounts[i].options[j]; j++)
      CHECK (!hull_str_has_prefix (c->mounts[i].options[j], "gid="));
  CHECK (strv_len (c->mounts[2].options) == 5);
  char *a = oci_config_to_json (c, false);
  oci_config_free (c);
  char *b = roundtrip_text (a, false);
  CHECK_STR (b, a);
  free (a);
  free (b);
}

static const char state_json[]
    = "{\"ociVersion\":\"1.2.0\",\"id\":\"box\",\"status\":\"running\",\"pid\":4242,\"bundle\":\"/srv/box\","
      "\"annotations\":{\"a\":\"b\"},\"rootfs\":\"/srv/box/"
      "rootfs\",\"created\":\"2024-01-02T03:04:05.000000006Z\","
      "\"owner\":\"\",\"initStartTime\":18446744073709551615,\"cgroupPath\":\"hull/"
      "box\",\"isolation\":\"vm\","
      "\"isolationSource\":\"annotation\",\"systemdCgroup\":true}";

TEST (state)
{
  hull_error_t err = NULL;
  struct oci_state *s = oci_state_parse (state_json, strlen (state_json), "state.json", &err);
  CHECK (s != NULL);
  CHECK (s->status == OCI_STATUS_RUNNING && s->pid == 4242 && s->init_start_time == UINT64_MAX);
  CHECK_STR (s->bundle, "/srv/box");
  CHECK_STR (s->isolation_source, "annotation");
  CHECK (s->systemd_cgroup);
  char *pub = oci_state_to_json (s, true, false);
  CHECK_STR (
      pub,
      "{\"ociVersion\":\"1.2.0\",\"id\":\"box\",\"pid\":4242,\"status\":\"running\",\"bundle\":\"/srv/box\","
      "\"rootfs\":\"/srv/box/rootfs\",\"created\":\"2024-01-02T03:04:05.000000006Z\","
      "\"annotations\":{\"a\":\"b\"},\"owner\":\"\"}");
  char *priv = oci_state_to_json (s, false, false);
  oci_state_free (s);
  s = oci_state_parse (priv, strlen (priv), "state.json", &err);
  CHECK (s != NULL);
  char *priv2 = oci_state_to_json (s, false, false);
  CHECK_STR (priv2, priv);
  CHECK_CONTAINS (priv, "\"initStartTime\":18446744073709551615");
  /* Hook flags: absent (a state from before) stays unknown; set ones round-trip. */
  CHECK (!s->poststart_hooks.set && !s->poststop_hooks.set);
  CHECK (strstr (priv, "Hooks") == NULL);
  s->poststart_hooks = (oci_bool){ true, false };
  s->poststop_hooks = (oci_bool){ true, true };
  char *flags = oci_state_to_json (s, false, false);
  oci_state_free (s);
  CHECK_CONTAINS (flags, "\"poststartHooks\":false,\"poststopHooks\":true");
  s = oci_state_parse (flags, strlen (flags), "state.json", &err);
  CHECK (s != NULL);
  CHECK (s->poststart_hooks.set && !s->poststart_hooks.v && s->poststop_hooks.set && s->poststop_hooks.v);
  char *pub2 = oci_state_to_json (s, true, false);
  CHECK (strstr (pub2, "Hooks") == NULL);
  oci_state_free (s);
  free (flags);
  free (pub2);
  free (pub);
  free (priv);
  free (priv2);
}

TEST (state_bad)
{
  static const struct bad_case cases[] = {
    { "{\"ociVersion\":\"1.0.0\",\"id\":\"x\",\"status\":\"zombie\",\"bundle\":\"/b\"}",
      "state.json: status: unknown status \"zombie\"" },
    { "{\"ociVersion\":\"1.0.0\",\"status\":\"created\",\"bundle\":\"/b\"}",
      "state.json: id: required field missing" },
    { "{\"ociVersion\":\"1.0.0\",\"id\":\"x\",\"status\":\"created\",\"bundle\":\"/b\",\"pid\":-3}",
      "state.json: pid: -3 is out of range" },
    { "{\"ociVersion\":\"1.0.0\",\"id\":\"x\",\"status\":\"created\",\"bundle\":\"b\"}",
      "state.json: bundle: \"b\" is not an absolute path" },
    { "{\"ociVersion\":\"1.0.0\",\"id\":\"x\",\"status\":\"created\"", "state.json: line 1: parse error" },
  };
  for (size_t i = 0; i < sizeof (cases) / sizeof (cases[0]); i++)
    {
      hull_error_t err = NULL;
      struct oci_state *s = oci_state_parse (cases[i].json, strlen (cases[i].json), "state.json", &err);
      CHECK (s == NULL);
      CHECK_CONTAINS (err->msg, cases[i].msg);
      hull_error_release (&err);
    }
}

TEST (features)
{
  char *f = oci_features_to_json ();
  CHECK (f != NULL);
  hull_error_t err = NULL;
  struct oci_jv *root = NULL;
  CHECK (oci_json_parse (f, strlen (f), "features", &root, &err) == 0);
  const struct oci_jv *l = oci_jv_member (root, "linux");
  CHECK (l != NULL);
  const struct oci_jv *cg = oci_jv_member (l, "cgroup");
  CHECK (cg && oci_jv_member (cg, "v2")->b && !oci_jv_member (cg, "v1")->b
         && !oci_jv_member (cg, "systemd")->b);
  CHECK (oci_jv_member (l, "namespaces")->n == OCI_NS_TYPES);
  CHECK (oci_jv_member (root, "hooks")->n == OCI_HOOK_KINDS);
  CHECK (oci_jv_member (oci_jv_member (l, "apparmor"), "enabled")->b);
  CHECK (!oci_jv_member (oci_jv_member (l, "selinux"), "enabled")->b);
  oci_json_free (root);
  CHECK_CONTAINS (f, "\"ociVersionMin\": \"1.0.0\"");
  CHECK_CONTAINS (f, "\"ociVersionMax\": \"1.2.0\"");
  CHECK_CONTAINS (f, "\"CAP_SYS_ADMIN\"");
  CHECK_CONTAINS (f, "\"SCMP_ACT_NOTIFY\"");
  CHECK_CONTAINS (f, "\"SCMP_CMP_MASKED_EQ\"");
  CHECK_CONTAINS (f, "\"SCMP_ARCH_X86_64\"");
  CHECK_CONTAINS (f, "\"nostrictatime\"");
  CHECK_CONTAINS (f, "\"io.hull.isolation\"");
  CHECK (strstr (f, "tmpcopyup") == NULL);
  free (f);
}

TEST (json_paths)
{
  struct oci_path a = OCI_KEY (NULL, "linux"), b = OCI_KEY (&a, "sysctl"), c = OCI_KEY (&b, "net.core.x");
  struct oci_path d = OCI_KEY (NULL, "mounts"), e = OCI_IDX (&d, 3), f = OCI_KEY (&e, "options");
  char *s1 = oci_path_string (&c), *s2 = oci_path_string (&f);
  int ok = strcmp (s1, "linux.sysctl[\"net.core.x\"]") == 0 && strcmp (s2, "mounts[3].options") == 0;
  if (!ok)
    fprintf (stderr, "  got %s and %s\n", s1, s2);
  free (s1);
  free (s2);
  CHECK (ok);
}

/* `update`: fields set in the update replace the container's, the rest stay. */
TEST (resources_merge)
{
  hull_error_t err = NULL;
  const char *base_json = "{\"memory\":{\"limit\":1000,\"reservation\":500},\"cpu\":{\"cpus\":\"0\"},"
                          "\"pids\":{\"limit\":10},\"unified\":{\"memory.high\":\"900\",\"pids.max\":\"9\"}}";
  const char *upd_json = "{\"memory\":{\"limit\":2000},\"cpu\":{\"cpus\":\"0-1\"},"
                         "\"unified\":{\"memory.high\":\"1900\",\"io.weight\":\"50\"}}";
  struct oci_resources base, upd;
  CHECK (oci_resources_parse (base_json, strlen (base_json), "base", &base, &err) == 0);
  CHECK (oci_resources_parse (upd_json, strlen (upd_json), "update", &upd, &err) == 0);
  oci_resources_merge (&base, &upd);
  oci_resources_release (&upd);
  CHECK (base.memory.limit.set && base.memory.limit.v == 2000);
  CHECK (base.memory.reservation.set && base.memory.reservation.v == 500);
  CHECK_STR (base.cpu.cpus, "0-1");
  CHECK (base.pids.limit.set && base.pids.limit.v == 10);
  CHECK (base.unified.n == 3);
  CHECK_STR (oci_kvs_get (&base.unified, "memory.high"), "1900");
  CHECK_STR (oci_kvs_get (&base.unified, "pids.max"), "9");
  CHECK_STR (oci_kvs_get (&base.unified, "io.weight"), "50");
  oci_resources_release (&base);
}

RUN_TESTS ("oci")
