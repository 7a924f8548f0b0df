/* hull: a runc-compatible OCI runtime.  Global options, then a command. */
#include "runtime.h"
#include "../cgroups/cgroups.h"

#include <getopt.h>
#include <libgen.h>

struct command
{
  const char *name;
  hull_command_fn fn;
  const char *summary;
};

static const struct command commands[] = {
  { "create", hull_cmd_create, "create a container from a bundle (it waits for `start`)" },
  { "start", hull_cmd_start, "start the process of a created container" },
  { "run", hull_cmd_run, "create and start a container, wait for it, delete it" },
  { "exec", hull_cmd_exec, "run another process in a container" },
  { "state", hull_cmd_state, "print the state of a container as JSON" },
  { "kill", hull_cmd_kill, "send a signal to the container's init (or all its processes)" },
  { "delete", hull_cmd_delete, "delete a container and everything it holds" },
  { "list", hull_cmd_list, "list the containers under --root" },
  { "ps", hull_cmd_ps, "list the processes of a container" },
  { "pause", hull_cmd_pause, "freeze every process of a container" },
  { "resume", hull_cmd_resume, "thaw a paused container" },
  { "update", hull_cmd_update, "change the resource limits of a container" },
  { "events", hull_cmd_events, "print a container's stats and OOM events" },
  { "spec", hull_cmd_spec, "write a default config.json" },
  { "image", hull_cmd_image, "import, list and remove images; make bundles from them" },
  { "vm-run", hull_cmd_vm_run, "boot hull's guest VM and run a command in it (VM isolation's first step)" },
  { "features", hull_cmd_features, "print what this build supports (runtime-spec features document)" },
  { NULL, NULL, NULL },
};

static void
usage (FILE *out)
{
  fprintf (out, "Usage: hull [global options] COMMAND [options] [args]\n\n"
                "hull runs OCI bundles as containers, with runc's command line.\n\nCommands:\n");
  for (const struct command *c = commands; c->name; c++)
    fprintf (out, "  %-10s %s\n", c->name, c->summary);
  fprintf (out, "\nGlobal options:\n"
                "  --root DIR              state directory (default /run/hull)\n"
                "  --log FILE              log file (default: stderr)\n"
                "  --log-format text|json  log format (json: runc's JSON lines)\n"
                "  --debug                 log debug messages\n"
                "  --systemd-cgroup        use the systemd cgroup driver (not supported yet)\n"
                "  --rootless true|false|auto  skip a cgroup that cannot be created when no limit needs it\n"
                "                          (default auto: true when not run as root)\n"
                "  -v, --version           print the version\n"
                "  -h, --help              show this help\n"
                "\nRun `hull COMMAND --help` for the options of a command.\n");
}

enum { OPT_ROOT = 256, OPT_LOG, OPT_LOG_FORMAT, OPT_DEBUG, OPT_SYSTEMD_CGROUP, OPT_CRIU, OPT_ROOTLESS };

static int
parse_globals (struct hull_context *ctx, int argc, char **argv, hull_error_t *err)
{
  static const struct option opts[] = {
    { "root", required_argument, NULL, OPT_ROOT },
    { "log", required_argument, NULL, OPT_LOG },
    { "log-format", required_argument, NULL, OPT_LOG_FORMAT },
    { "debug", no_argument, NULL, OPT_DEBUG },
    { "systemd-cgroup", no_argument, NULL, OPT_SYSTEMD_CGROUP },
    { "criu", required_argument, NULL, OPT_CRIU },
    { "rootless", required_argument, NULL, OPT_ROOTLESS },
    { "version", no_argument, NULL, 'v' },
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  int c;
  opterr = 0;
  while ((c = getopt_long (argc, argv, "+vh", opts, NULL)) != -1)
    switch (c)
      {
      case OPT_ROOT: ctx->root = optarg; break;
      case OPT_LOG: ctx->log_path = optarg; break;
      case OPT_LOG_FORMAT:
        if (strcmp (optarg, "json") != 0 && strcmp (optarg, "text") != 0)
          return hull_make_error (err, 0, "--log-format: `%s` is not `text` or `json`", optarg);
        ctx->log_json = strcmp (optarg, "json") == 0;
        break;
      case OPT_DEBUG: ctx->debug = true; break;
      case OPT_SYSTEMD_CGROUP: ctx->systemd_cgroup = true; break;
      case OPT_CRIU: break; /* accepted for runc compatibility */
      case OPT_ROOTLESS:
        if (strcmp (optarg, "true") != 0 && strcmp (optarg, "false") != 0 && strcmp (optarg, "auto") != 0)
          return hull_make_error (err, 0, "--rootless: `%s` is not `true`, `false` or `auto`", optarg);
        ctx->rootless = strcmp (optarg, "auto") == 0 ? geteuid () != 0 : strcmp (optarg, "true") == 0;
        break;
      case 'v': printf ("hull version 0.1.0\nspec: 1.2.0\n"); return 1;
      case 'h': usage (stdout); return 1;
      default:
        return hull_make_error (err, 0, "unknown global option `%s` (see `hull --help`)", argv[optind - 1]);
      }
  return 0;
}

static void
cgroup_warning (const char *msg)
{
  hull_warn ("%s", msg);
}

static const char *
default_root (void)
{
  static char buf[256];
  const char *xdg = getenv ("XDG_RUNTIME_DIR");
  if (geteuid () == 0 || xdg == NULL || *xdg == '\0')
    return "/run/hull";
  snprintf (buf, sizeof (buf), "%s/hull", xdg);
  return buf;
}

int
main (int argc, char **argv)
{
  /* --rootless auto (runc's default): rootless when not running as root. */
  struct hull_context ctx
      = { .root = default_root (), .program = basename (argv[0]), .rootless = geteuid () != 0 };
  hull_error_t err = NULL;
  int r = parse_globals (&ctx, argc, argv, &err);
  if (r > 0)
    return 0;
  if (r == 0 && hull_log_init (&ctx, &err) < 0)
    r = -1;
  cg_set_warn_fn (cgroup_warning);
  if (r == 0 && optind >= argc)
    {
      usage (stderr);
      return 1;
    }
  if (r == 0 && ctx.systemd_cgroup)
    r = hull_make_error (&err, 0, "--systemd-cgroup: the systemd cgroup driver is not supported yet; hull "
                                  "manages cgroups directly (cgroupfs), drop the flag");
  if (r == 0)
    {
      const char *name = argv[optind];
      const struct command *cmd = commands;
      while (cmd->name && strcmp (cmd->name, name) != 0)
        cmd++;
      if (cmd->name == NULL)
        r = hull_make_error (&err, 0, "unknown command `%s` (see `hull --help`)", name);
      else
        {
          int sub_argc = argc - optind;
          char **sub_argv = argv + optind;
          optind = 0; /* full re-initialisation of getopt for the command */
          r = cmd->fn (&ctx, sub_argc, sub_argv, &err);
        }
    }
  if (r < 0)
    {
      hull_log_error (err);
      hull_error_release (&err);
      return 1;
    }
  return r;
}
