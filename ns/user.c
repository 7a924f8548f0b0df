/* The process's identity: supplementary groups, gid, uid, umask, the five
 * capability sets and no_new_privs, applied in the order runc uses so that
 * the capabilities asked for survive the switch away from root. */
#include "ns-internal.h"
#include "user-internal.h"

#include <ctype.h>
#include <grp.h>
#include <sys/capability.h>
#include <sys/prctl.h>
#include <sys/stat.h>

enum cap_set_kind
{
  CAPS_BOUNDING,
  CAPS_EFFECTIVE,
  CAPS_INHERITABLE,
  CAPS_PERMITTED,
  CAPS_AMBIENT,
  CAPS_KINDS
};

static const char *const cap_set_names[CAPS_KINDS]
    = { "bounding", "effective", "inheritable", "permitted", "ambient" };

/* Capabilities fit in 64 bits on every kernel so far (CAP_LAST_CAP is 40). */
typedef uint64_t cap_mask_t;

static char **
cap_set_list (const struct oci_capabilities *caps, enum cap_set_kind k)
{
  if (caps == NULL)
    return NULL;
  switch (k)
    {
    case CAPS_BOUNDING:
      return caps->bounding;
    case CAPS_EFFECTIVE:
      return caps->effective;
    case CAPS_INHERITABLE:
      return caps->inheritable;
    case CAPS_PERMITTED:
      return caps->permitted;
    default:
      return caps->ambient;
    }
}

/* Returns the kernel's number for a "CAP_*" name, or -1 when the name is
 * unknown to libcap or to the running kernel.  runc only knows the exact
 * upper-case spelling; libcap alone would also take "cap_chown" or "7". */
static int
cap_value_of (const char *name)
{
  if (!hull_str_has_prefix (name, "CAP_") || name[4] == '\0' || isdigit ((unsigned char)name[4]))
    return -1;
  for (const char *s = name; *s; s++)
    if (!isupper ((unsigned char)*s) && !isdigit ((unsigned char)*s) && *s != '_')
      return -1;
  cap_value_t v;
  if (cap_from_name (name, &v) < 0 || v < 0 || v >= cap_max_bits () || v >= 64)
    return -1;
  return v;
}

/* Unknown names are skipped here: validation already warned about them. */
static cap_mask_t
cap_mask_of (char **names)
{
  cap_mask_t m = 0;
  for (size_t i = 0; names && names[i]; i++)
    {
      int v = cap_value_of (names[i]);
      if (v >= 0)
        m |= (cap_mask_t)1 << v;
    }
  return m;
}

static const char *
cap_name_of (int v, char buf[32])
{
  char *n = cap_to_name (v);
  snprintf (buf, 32, "%s", n ? n : "?");
  cap_free (n);
  /* libcap spells them "cap_chown"; the config uses "CAP_CHOWN". */
  for (char *s = buf; *s; s++)
    *s = toupper ((unsigned char)*s);
  return buf;
}

/* Names the first capability of `extra` in an error about set `k`. */
static int
cap_subset_error (enum cap_set_kind k, cap_mask_t extra, const char *why, hull_error_t *err)
{
  char buf[32];
  int v = __builtin_ctzll (extra);
  return hull_make_error (err, 0, "process.capabilities.%s: %s is not in the %s, the kernel refuses it",
                          cap_set_names[k], cap_name_of (v, buf), why);
}

static void
warn_unknown_caps (const struct oci_capabilities *caps)
{
  cleanup_strv char **unknown = NULL;
  for (int k = 0; k < CAPS_KINDS; k++)
    {
      char **names = cap_set_list (caps, k);
      for (size_t i = 0; names && names[i]; i++)
        {
          bool seen = false;
          for (size_t j = 0; unknown && unknown[j]; j++)
            seen = seen || strcmp (unknown[j], names[i]) == 0;
          if (!seen && cap_value_of (names[i]) < 0)
            strv_append (&unknown, names[i]);
        }
    }
  if (unknown == NULL)
    return;
  /* runc 1.1 ignores such names (a newer config on an older kernel must
   * still run) with this warning; the list is printed as Go prints it. */
  fputs ("WARN: ignoring unknown or unavailable capabilities: [", stderr);
  for (size_t j = 0; unknown[j]; j++)
    fprintf (stderr, "%s%s", j ? " " : "", unknown[j]);
  fputs ("]\n", stderr);
}

int
ns_validate_capabilities (const struct oci_capabilities *caps, hull_error_t *err)
{
  if (caps == NULL)
    return 0;
  warn_unknown_caps (caps);
  cap_mask_t m[CAPS_KINDS];
  for (int k = 0; k < CAPS_KINDS; k++)
    m[k] = cap_mask_of (cap_set_list (caps, k));
  /* capset(2) refuses E outside P and I outside the bounding set;
   * PR_CAP_AMBIENT_RAISE refuses a capability not in both P and I. */
  if (m[CAPS_EFFECTIVE] & ~m[CAPS_PERMITTED])
    return cap_subset_error (CAPS_EFFECTIVE, m[CAPS_EFFECTIVE] & ~m[CAPS_PERMITTED], "permitted set", err);
  if (m[CAPS_INHERITABLE] & ~m[CAPS_BOUNDING])
    return cap_subset_error (CAPS_INHERITABLE, m[CAPS_INHERITABLE] & ~m[CAPS_BOUNDING], "bounding set", err);
  /* runc warns and goes on when an ambient capability cannot be raised
   * (its own `runc spec` lists ambient capabilities outside the inheritable
   * set); the apply step skips them. */
  cap_mask_t pi = m[CAPS_PERMITTED] & m[CAPS_INHERITABLE];
  for (int v = 0; v < 64; v++)
    if (m[CAPS_AMBIENT] & ~pi & ((cap_mask_t) 1 << v))
      {
        char buf[32];
        fprintf (stderr, "WARN: can't raise ambient capability %s: not in the permitted and inheritable sets\n",
                 cap_name_of (v, buf));
      }
  return 0;
}

/* ---- applying ---------------------------------------------------------- */

/* Needs CAP_SETPCAP in the effective set, so it runs before the uid switch. */
static int
drop_bounding (cap_mask_t keep, hull_error_t *err)
{
  int max = cap_max_bits ();
  for (int v = 0; v < max; v++)
    {
      if (v < 64 && (keep & ((cap_mask_t)1 << v)))
        continue;
      if (prctl (PR_CAPBSET_DROP, v, 0, 0, 0) < 0 && errno != EINVAL)
        {
          char buf[32];
          return hull_make_error (err, errno, "drop %s from the bounding set", cap_name_of (v, buf));
        }
    }
  return 0;
}

static bool
setgroups_denied (void)
{
  cleanup_free char *s = NULL;
  if (hull_read_file_at (AT_FDCWD, "/proc/self/setgroups", 64, &s, NULL, NULL) < 0)
    return false;
  return hull_str_has_prefix (s, "deny");
}

static int
set_groups (const struct oci_user *u, bool in_new_userns, hull_error_t *err)
{
  /* An unprivileged user namespace may have setgroups "deny" (the kernel
   * requires it before an unprivileged gid_map write): then setgroups(2)
   * always fails.  runc skips it silently; we only refuse when groups were
   * explicitly asked for, since they could not be honoured. */
  if (in_new_userns && setgroups_denied ())
    {
      if (u->n_additional_gids > 0)
        return hull_make_error (err, 0,
                                "process.user.additionalGids: cannot set %zu supplementary groups: "
                                "/proc/self/setgroups is \"deny\" in the container's user namespace",
                                u->n_additional_gids);
      return 0;
    }
  cleanup_free gid_t *gids = xmalloc0 (u->n_additional_gids * sizeof (gid_t));
  for (size_t i = 0; i < u->n_additional_gids; i++)
    gids[i] = u->additional_gids[i];
  if (setgroups (u->n_additional_gids, gids) < 0)
    {
      int saved_errno = errno;
      return hull_make_error (err, saved_errno, "setgroups (%zu groups)%s", u->n_additional_gids,
                              saved_errno == EPERM    ? " (is setgroups denied in the user namespace?)"
                              : saved_errno == EINVAL ? " (is every group mapped in the user namespace?)"
                                                      : "");
    }
  return 0;
}

static int
switch_user (const struct oci_user *u, bool in_new_userns, hull_error_t *err)
{
  if (set_groups (u, in_new_userns, err) < 0)
    return -1;
  /* The gid first: once the uid is not 0 we may no longer change it. */
  if (setresgid (u->gid, u->gid, u->gid) < 0)
    return hull_make_error (err, errno, "setresgid %u%s", u->gid,
                            errno == EINVAL ? " (not mapped in the user namespace)" : "");
  if (setresuid (u->uid, u->uid, u->uid) < 0)
    return hull_make_error (err, errno, "setresuid %u%s", u->uid,
                            errno == EINVAL ? " (not mapped in the user namespace)" : "");
  return 0;
}

static int
cap_flag_from_mask (cap_t c, cap_flag_t flag, cap_mask_t m)
{
  for (int v = 0; v < 64; v++)
    {
      cap_value_t cv = v;
      if ((m & ((cap_mask_t)1 << v)) && cap_set_flag (c, flag, 1, &cv, CAP_SET) < 0)
        return -1;
    }
  return 0;
}

static int
set_caps (const cap_mask_t m[CAPS_KINDS], hull_error_t *err)
{
  cap_t c = cap_init ();
  if (c == NULL)
    return hull_make_error (err, errno, "cap_init");
  int ret = 0;
  if (cap_flag_from_mask (c, CAP_EFFECTIVE, m[CAPS_EFFECTIVE]) < 0
      || cap_flag_from_mask (c, CAP_PERMITTED, m[CAPS_PERMITTED]) < 0
      || cap_flag_from_mask (c, CAP_INHERITABLE, m[CAPS_INHERITABLE]) < 0)
    ret = hull_make_error (err, errno, "cap_set_flag");
  else if (cap_set_proc (c) < 0)
    ret = hull_make_error (err, errno, "set the effective, permitted and inheritable capabilities");
  cap_free (c);
  if (ret < 0)
    return ret;

  /* Ambient last: raising needs the capability in both P and I already. */
  if (prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0) < 0 && errno != EINVAL)
    return hull_make_error (err, errno, "clear the ambient capabilities");
  cap_mask_t raisable = m[CAPS_AMBIENT] & m[CAPS_PERMITTED] & m[CAPS_INHERITABLE];
  for (int v = 0; v < 64; v++)
    if ((raisable & ((cap_mask_t)1 << v)) && prctl (PR_CAP_AMBIENT, PR_CAP_AMBIENT_RAISE, v, 0, 0) < 0)
      {
        char buf[32];
        return hull_make_error (err, errno, "raise ambient capability %s", cap_name_of (v, buf));
      }
  return 0;
}

int
ns_apply_user_and_caps (const struct oci_process *p, bool in_new_userns, hull_error_t *err)
{
  /* A missing capabilities object means no capabilities at all, as runc does
   * with an empty list: every set, bounding included, ends up empty. */
  cap_mask_t m[CAPS_KINDS];
  for (int k = 0; k < CAPS_KINDS; k++)
    m[k] = cap_mask_of (cap_set_list (p->capabilities, k));

  if (drop_bounding (m[CAPS_BOUNDING], err) < 0)
    return -1;
  /* Without KEEPCAPS, leaving uid 0 would clear the permitted set and the
   * capabilities asked for could not be restored below. */
  if (prctl (PR_SET_KEEPCAPS, 1, 0, 0, 0) < 0)
    return hull_make_error (err, errno, "prctl PR_SET_KEEPCAPS");
  if (switch_user (&p->user, in_new_userns, err) < 0)
    return -1;
  if (prctl (PR_SET_KEEPCAPS, 0, 0, 0, 0) < 0)
    return hull_make_error (err, errno, "prctl PR_SET_KEEPCAPS");
  if (p->user.umask.set)
    umask ((mode_t)(p->user.umask.v & 0777));
  if (set_caps (m, err) < 0)
    return -1;
  if (p->no_new_privileges && prctl (PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0)
    return hull_make_error (err, errno, "prctl PR_SET_NO_NEW_PRIVS");
  return 0;
}
