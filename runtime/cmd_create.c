/* hull create [--bundle DIR] [--pid-file F] [--console-socket S] ... ID */
#include "runtime.h"

#include <getopt.h>

const char hull_create_options_help[]
    = "  -b, --bundle DIR        bundle directory (default: current directory)\n"
      "  --pid-file FILE         write the init's pid to FILE\n"
      "  --console-socket PATH   AF_UNIX socket that receives the pty master (process.terminal)\n"
      "  --no-pivot              do not use pivot_root (MS_MOVE + chroot instead)\n"
      "  --no-new-keyring        keep the caller's session keyring\n"
      "  --preserve-fds N        pass N extra fds (3 .. 3+N-1) to the process\n";

enum { OPT_PID_FILE = 256, OPT_CONSOLE_SOCKET, OPT_NO_PIVOT, OPT_NO_NEW_KEYRING, OPT_PRESERVE_FDS, OPT_KEEP,
       OPT_NO_SUBREAPER, OPT_IMAGE };

int
hull_parse_create_opts (const struct hull_cmd_help *h, int argc, char **argv, bool is_run,
                        struct hull_create_opts *o, bool *detach, hull_error_t *err)
{
  static const struct option opts[] = {
    { "bundle", required_argument, NULL, 'b' },
    { "pid-file", required_argument, NULL, OPT_PID_FILE },
    { "console-socket", required_argument, NULL, OPT_CONSOLE_SOCKET },
    { "no-pivot", no_argument, NULL, OPT_NO_PIVOT },
    { "no-new-keyring", no_argument, NULL, OPT_NO_NEW_KEYRING },
    { "preserve-fds", required_argument, NULL, OPT_PRESERVE_FDS },
    { "detach", no_argument, NULL, 'd' },
    { "keep", no_argument, NULL, OPT_KEEP },
    { "no-subreaper", no_argument, NULL, OPT_NO_SUBREAPER },
    { "image", required_argument, NULL, OPT_IMAGE }, /* run only: image/ makes the bundle */
    { "help", no_argument, NULL, 'h' },
    { NULL, 0, NULL, 0 },
  };
  int c;
  uint64_t n;
  memset (o, 0, sizeof (*o));
  o->console_socket_fd = -1;
  while ((c = getopt_long (argc, argv, is_run ? "+b:dh" : "+b:h", opts, NULL)) != -1)
    switch (c)
      {
      case 'b': o->bundle = optarg; break;
      case OPT_PID_FILE: o->pid_file = optarg; break;
      case OPT_CONSOLE_SOCKET: o->console_socket = optarg; break;
      case OPT_NO_PIVOT: o->no_pivot = true; break;
      case OPT_NO_NEW_KEYRING: o->no_new_keyring = true; break;
      case OPT_PRESERVE_FDS:
        if (hull_parse_u64 (optarg, &n) < 0 || n > 1024)
          return hull_make_error (err, 0, "--preserve-fds: `%s` is not a number between 0 and 1024", optarg);
        o->preserve_fds = (int) n;
        break;
      case 'd':
      case OPT_KEEP:
      case OPT_NO_SUBREAPER:
        if (!is_run)
          goto unknown;
        if (c == 'd')
          *detach = true;
        break;
      case OPT_IMAGE:
        if (!is_run)
          goto unknown;
        o->image = optarg;
        break;
      case 'h': return hull_print_help (h);
      default:
      unknown:
        return hull_make_error (err, 0, "%s: unknown option `%s` (see `hull %s --help`)", h->name, argv[optind - 1],
                                h->name);
      }
  if (hull_expect_args (h, argc, argv, optind, 1, err) < 0)
    return -1;
  o->id = argv[optind];
  return 0;
}

int
hull_cmd_create (struct hull_context *ctx, int argc, char **argv, hull_error_t *err)
{
  static const struct hull_cmd_help help = {
    "create", "[options] CONTAINER_ID",
    "Creates a container from the bundle: namespaces, cgroup, rootfs and process are set up and the\n"
    "init waits; `hull start` runs the process.",
    hull_create_options_help,
  };
  struct hull_create_opts o;
  bool detach = false;
  int r = hull_parse_create_opts (&help, argc, argv, false, &o, &detach, err);
  if (r != 0)
    return r < 0 ? -1 : 0;
  pid_t pid;
  return hull_create_container (ctx, &o, &pid, NULL, err) < 0 ? -1 : 0;
}
