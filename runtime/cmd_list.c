/* hull list [--format table|json] [--quiet] */
#include "runtime.h"

#include <dirent.h>
#include <getopt.h>
#include <pwd.h>
#include <sys/stat.h>

struct row
{
  struct hull_container *c;
  enum oci_status status;
};

static int
cmp_rows (const void *a, const void *b)
{
  return strcmp (((const struct row *) a)->c->id, ((const struct row *) b)->c->id);
}

/* The user owning the container's state directory, as runc's list reports
 * it (create does not look it up: that would tax every create). */
static char *
dir_owner (int dir_fd)
{
  struct stat st;
  if (fstat (dir_fd, &st) < 0)
    return xstrdup ("");
  struct passwd *pw = getpwuid (st.st_uid);
  return pw ? xstrdup (pw->pw_name) : hull_fmt ("%u", st.st_uid);
}

/* Loads every container under --root (skipping ones being created/deleted). */
static int
load_all (struct hull_context *ctx, struct row **rows, size_t *n, hull_error_t *err)
{
  *rows = NULL;
  *n = 0;
  DIR *d = opendir (ctx->root);
  if (d == NULL)
    return errno == ENOENT
               ? 0
               : hull_make_error (err, errno, "open state root `%s`%s", ctx->root, hull_root_hint (errno));
  struct dirent *de;
  while ((de = readdir (d)) != NULL)
    {
      struct hull_container *c = NULL;
      hull_error_t ignored = NULL;
      if (de->d_name[0] == '.' || hull_container_load (ctx, de->d_name, false, &c, &ignored) < 0)
        {
          hull_error_release (&ignored);
          continue;
        }
      if (c->state->owner == NULL || *c->state->owner == '\0')
        {
          free (c->state->owner);
          c->state->owner = dir_owner (c->dir_fd);
        }
      *rows = xreallocarray (*rows, *n + 1, sizeof (struct row));
      (*rows)[(*n)++] = (struct row){ c, hull_container_status (c) };
    }
  closedir (d);
  if (*n > 1)
    qsort (*rows, *n, sizeof (struct row), cmp_rows);
  return 0;
}

static void
print_table (struct row *rows, size_t n)
{
  int w_id = 2, w_bundle = 6;
  for (size_t i = 0; i < n; i++)
    {
      int l = (int) strlen (rows[i].c->id), b = (int) strlen (rows[i].c->state->bundle);
      w_id = l > w_id ? l : w_id;
      w_bundle = b > w_bundle ? b : w_bundle;
    }
  printf ("%-*s   %-10s %-10s %-*s   %-30s   %s\n", w_id, "ID", "PID", "STATUS", w_bundle, "BUNDLE", "CREATED",
          "OWNER");
  for (size_t i = 0; i < n; i++)
    {
      const struct oci_state *s = rows[i].c->state;
      printf ("%-*s   %-10d %-10s %-*s   %-30s   %s\n", w_id, s->id,
              rows[i].status == OCI_STATUS_STOPPED ? 0 : s->pid, oci_status_names[rows[i].status], w_bundle,
              s->bundle, s->created ? s->created : "", s->owner ? s->owner : "");
    }
}

static void
print_json (struct row *rows, size_t n)
{
  printf ("[");
  for (size_t i = 0; i < n; i++)
    {
      cleanup_free char *json = hull_state_json (rows[i].c, rows[i].status, false);
      printf ("%s%s", i ? "," : "", json);
    }
  printf ("]\n");
}

int
hull_cmd_list (struct hull_context *ctx, int argc, char **argv, hull_error_t *err)
{
  static const struct hull_cmd_help help = {
    "list", "[options]", "Lists the containers under --root.",
    "  -f, --format table|json output format (default table)\n"
    "  -q, --quiet             print only the ids\n",
  };
  static const struct option opts[] = { { "format", required_argument, NULL, 'f' },
                                        { "quiet", no_argument, NULL, 'q' },
                                        { "help", no_argument, NULL, 'h' },
                                        { NULL, 0, NULL, 0 } };
  bool json = false, quiet = false;
  int c;
  while ((c = getopt_long (argc, argv, "+f:qh", opts, NULL)) != -1)
    switch (c)
      {
      case 'f':
        if (strcmp (optarg, "json") != 0 && strcmp (optarg, "table") != 0)
          return hull_make_error (err, 0, "list: --format `%s` is not `table` or `json`", optarg);
        json = strcmp (optarg, "json") == 0;
        break;
      case 'q': quiet = true; break;
      case 'h': hull_print_help (&help); return 0;
      default: return hull_make_error (err, 0, "list: unknown option `%s`", argv[optind - 1]);
      }
  if (hull_expect_args (&help, argc, argv, optind, 0, err) < 0)
    return -1;
  struct row *rows;
  size_t n;
  if (load_all (ctx, &rows, &n, err) < 0)
    return -1;
  if (quiet)
    for (size_t i = 0; i < n; i++)
      printf ("%s\n", rows[i].c->id);
  else if (json)
    print_json (rows, n);
  else
    print_table (rows, n);
  for (size_t i = 0; i < n; i++)
    hull_container_free (rows[i].c);
  free (rows);
  return 0;
}
