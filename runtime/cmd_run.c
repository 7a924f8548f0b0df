/* hull run [create options] [--detach] ID: create + start, then (in the
 * foreground) relay the terminal, forward signals, wait, delete, and exit
 * with the container's status. */
#include "runtime.h"

static int
run_foreground (struct hull_context *ctx, struct hull_create_opts *o, hull_error_t *err)
{
  struct hull_fg fg;
  if (hull_fg_prepare (&fg, err) < 0)
    return -1;
  pid_t pid;
  int master = -1, status = 0;
  o->foreground = true;
  if (hull_create_container (ctx, o, &pid, &master, err) < 0)
    {
      hull_fg_release (&fg);
      return -1;
    }
  int ret = hull_start_container (ctx, o->id, err);
  if (ret == 0)
    status = hull_fg_wait (&fg, pid, master);
  if (master >= 0)
    close (master);
  hull_error_t del_err = NULL;
  if (hull_delete_container (ctx, o->id, true, &del_err) < 0 && ret == 0)
    *err = steal_pointer (&del_err), ret = -1;
  hull_error_release (&del_err);
  hull_fg_release (&fg);
  return ret < 0 ? -1 : status;
}

int
hull_cmd_run (struct hull_context *ctx, int argc, char **argv, hull_error_t *err)
{
  static char options[1024];
  static const struct hull_cmd_help help = {
    "run", "[options] CONTAINER_ID",
    "Creates and starts a container.  In the foreground, waits for it, deletes it and exits with its\n"
    "status (128+N when killed by signal N).",
    options,
  };
  snprintf (options, sizeof (options),
            "%s  -d, --detach            return once started (like create + start)\n"
            "  --image IMAGE           the bundle is made from an image (hull image); delete removes it\n",
            hull_create_options_help);
  struct hull_create_opts o;
  bool detach = false;
  int r = hull_parse_create_opts (&help, argc, argv, true, &o, &detach, err);
  if (r != 0)
    return r < 0 ? -1 : 0;
  /* --image: image/ makes the bundle; create records it so that delete
   * removes it; a failed create leaves it to us. */
  cleanup_free char *image_bundle = NULL;
  if (o.image && o.bundle)
    return hull_make_error (err, 0, "run: --image and --bundle exclude each other");
  if (o.image && hull_image_bundle (ctx, o.image, o.id, &image_bundle, err) < 0)
    return -1;
  if (image_bundle)
    o.bundle = image_bundle;
  if (!detach)
    {
      r = run_foreground (ctx, &o, err);
      if (r < 0 && image_bundle)
        hull_image_bundle_remove (ctx, o.id, image_bundle);
      return r;
    }
  pid_t pid;
  if (hull_create_container (ctx, &o, &pid, NULL, err) < 0)
    {
      if (image_bundle)
        hull_image_bundle_remove (ctx, o.id, image_bundle);
      return -1;
    }
  if (hull_start_container (ctx, o.id, err) < 0)
    {
      hull_error_t ignored = NULL;
      hull_delete_container (ctx, o.id, true, &ignored);
      hull_error_release (&ignored);
      return -1;
    }
  return 0;
}
