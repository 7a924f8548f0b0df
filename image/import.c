/* The import: plan, unpack the layers not yet stored into a staging
 * directory (in parallel: layers are independent directories), verify
 * every digest, one syncfs, then commit with renames.  A failure anywhere
 * before the commit removes the staging directory and changes nothing. */
#include "image-internal.h"

#include <pthread.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <time.h>

#define PROGRESS_MIN (32ull << 20)

struct job
{
  size_t layer; /* first layer of the plan with this diff-id */
  char key[65];
  bool present; /* already in the store */
  char dir[32]; /* staging subdirectory */
  struct img_unpack_result res;
  hull_error_t err;
  uint64_t blob_size;
};

struct import
{
  struct img_store *s;
  const struct img_import_opts *o;
  struct img_plan *plan;
  struct img_source *src;
  int staging_fd;
  struct job *jobs;
  size_t n_jobs;
  size_t *layer_job; /* plan layer -> job */
  pthread_mutex_t mu;
  pthread_cond_t cond;
  size_t next, running, done;
  int cancel;
  struct job *failed;
  uint64_t progress, total;
};

static int
verify (struct import *im, struct job *j, hull_error_t *err)
{
  const struct img_layer_plan *l = &im->plan->layers[j->layer];
  if (l->digest && strcmp (l->digest, j->res.digest) != 0)
    return hull_make_error (err, 0, "layer %zu (%s): digest mismatch: the blob's sha256 is %s", j->layer,
                            l->digest, j->res.digest);
  if (l->size >= 0 && (uint64_t)l->size != j->res.blob_size)
    return hull_make_error (err, 0, "layer %zu (%s): size mismatch: expected %lld bytes, read %llu", j->layer,
                            l->digest ? l->digest : l->blob, (long long)l->size,
                            (unsigned long long)j->res.blob_size);
  if (strcmp (l->diff_id, j->res.diff_id) != 0)
    return hull_make_error (err, 0,
                            "layer %zu (%s): diff-id mismatch: the config says %s, the tar's sha256 is %s",
                            j->layer, l->digest ? l->digest : l->blob, l->diff_id, j->res.diff_id);
  return 0;
}

static int
run_job (struct import *im, struct job *j, hull_error_t *err)
{
  const struct img_layer_plan *l = &im->plan->layers[j->layer];
  snprintf (j->dir, sizeof (j->dir), "L%zu", j->layer);
  if (mkdirat (im->staging_fd, j->dir, 0755) < 0)
    return hull_make_error (err, errno, "image store: create a staging directory");
  cleanup_close int dfd = openat (im->staging_fd, j->dir, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
  if (dfd < 0)
    return hull_make_error (err, errno, "image store: open a staging directory");
  struct img_blob *b = NULL;
  uint64_t size;
  if (img_source_open_blob (im->src, l->blob, &b, &size, err) < 0)
    return hull_error_wrap (err, "layer %zu", j->layer);
  cleanup_free char *what = hull_fmt ("layer %zu (%s)", j->layer, l->digest ? l->digest : l->blob);
  struct img_unpack_opts uo
      = { .limits = im->o->limits, .what = what, .progress = &im->progress, .cancel = &im->cancel };
  int r = img_unpack_layer (dfd, img_blob_read, b, &uo, &j->res, err);
  img_blob_close (b);
  if (r < 0)
    return -1;
  j->blob_size = j->res.blob_size;
  return verify (im, j, err);
}

static void *
worker (void *arg)
{
  struct import *im = arg;
  for (;;)
    {
      pthread_mutex_lock (&im->mu);
      while (im->next < im->n_jobs && im->jobs[im->next].present)
        im->next++;
      bool stop = __atomic_load_n (&im->cancel, __ATOMIC_SEQ_CST);
      struct job *j = im->next < im->n_jobs && !stop ? &im->jobs[im->next++] : NULL;
      pthread_mutex_unlock (&im->mu);
      if (j == NULL)
        break;
      /* The first failure stops the other workers at their next read; its
       * error is the one reported (theirs only say they were stopped). */
      if (run_job (im, j, &j->err) < 0 && __atomic_exchange_n (&im->cancel, 1, __ATOMIC_SEQ_CST) == 0)
        im->failed = j;
      pthread_mutex_lock (&im->mu);
      im->done++;
      pthread_mutex_unlock (&im->mu);
    }
  pthread_mutex_lock (&im->mu);
  im->running--;
  pthread_cond_broadcast (&im->cond);
  pthread_mutex_unlock (&im->mu);
  return NULL;
}

static void
print_progress (struct import *im, size_t to_unpack, bool final)
{
  uint64_t p = __atomic_load_n (&im->progress, __ATOMIC_RELAXED);
  fprintf (stderr, "\rimporting: %llu/%llu MiB, %zu/%zu layers%s", (unsigned long long)(p >> 20),
           (unsigned long long)(im->total >> 20), im->done, to_unpack, final ? "\n" : "");
  fflush (stderr);
}

static int
unpack_all (struct import *im, hull_error_t *err)
{
  size_t to_unpack = 0;
  for (size_t i = 0; i < im->n_jobs; i++)
    to_unpack += !im->jobs[i].present;
  long ncpu = sysconf (_SC_NPROCESSORS_ONLN);
  size_t n = im->o->jobs > 0 ? (size_t)im->o->jobs : (ncpu > 0 ? (size_t)ncpu : 1);
  if (n > to_unpack)
    n = to_unpack;
  pthread_t *t = xmalloc0 ((n + 1) * sizeof (pthread_t));
  size_t started = 0;
  for (; started < n; started++)
    {
      pthread_mutex_lock (&im->mu);
      im->running++;
      pthread_mutex_unlock (&im->mu);
      if (pthread_create (&t[started], NULL, worker, im) != 0)
        {
          pthread_mutex_lock (&im->mu);
          im->running--;
          pthread_mutex_unlock (&im->mu);
          break;
        }
    }
  if (started == 0 && to_unpack > 0)
    worker (im); /* no thread could be made: do it here */
  bool progress = im->o->progress && im->total >= PROGRESS_MIN;
  pthread_mutex_lock (&im->mu);
  while (im->running > 0)
    {
      if (progress)
        {
          pthread_mutex_unlock (&im->mu);
          print_progress (im, to_unpack, false);
          pthread_mutex_lock (&im->mu);
        }
      struct timespec ts;
      clock_gettime (CLOCK_REALTIME, &ts);
      ts.tv_nsec += 200 * 1000 * 1000;
      if (ts.tv_nsec >= 1000000000)
        ts.tv_sec++, ts.tv_nsec -= 1000000000;
      pthread_cond_timedwait (&im->cond, &im->mu, &ts);
    }
  pthread_mutex_unlock (&im->mu);
  for (size_t i = 0; i < started; i++)
    pthread_join (t[i], NULL);
  free (t);
  if (progress)
    print_progress (im, to_unpack, true);
  if (im->failed)
    {
      *err = steal_pointer (&im->failed->err);
      return -1;
    }
  return 0;
}

/* Finds the layers already stored and the repeated diff-ids. */
static void
plan_jobs (struct import *im)
{
  struct img_plan *p = im->plan;
  im->jobs = xmalloc0 ((p->n_layers + 1) * sizeof (struct job));
  im->layer_job = xmalloc0 ((p->n_layers + 1) * sizeof (size_t));
  for (size_t i = 0; i < p->n_layers; i++)
    {
      size_t j;
      for (j = 0; j < im->n_jobs; j++)
        if (strcmp (im->plan->layers[im->jobs[j].layer].diff_id, p->layers[i].diff_id) == 0)
          break;
      im->layer_job[i] = j;
      if (j < im->n_jobs)
        continue;
      struct job *job = &im->jobs[im->n_jobs++];
      job->layer = i;
      memcpy (job->key, p->layers[i].diff_id + 7, 65);
      job->present = faccessat (im->s->layers_fd, job->key, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
      int64_t size = p->layers[i].size >= 0 ? p->layers[i].size : img_source_size (im->src, p->layers[i].blob);
      if (!job->present && size > 0)
        im->total += size;
    }
}

static int
open_lower (struct import *im, size_t below, int **fds, hull_error_t *err)
{
  int *v = xmalloc ((below + 1) * sizeof (int));
  for (size_t k = 0; k < below; k++)
    {
      struct job *j = &im->jobs[im->layer_job[below - 1 - k]];
      v[k] = j->present ? openat (im->s->layers_fd, j->key, O_RDONLY | O_DIRECTORY | O_CLOEXEC)
                        : openat (im->staging_fd, j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (v[k] < 0)
        {
          int saved_errno = errno;
          img_close_layers (v, k);
          return hull_make_error (err, saved_errno, "open the layers below layer %zu", below);
        }
    }
  *fds = v;
  return 0;
}

/* Hardlinks into lower layers: copy, and key the layer by its chain id
 * since its content now depends on what is below it.  Implicit directories
 * take the lower layers' metadata (the key stays: metadata only). */
static int
apply_fixups (struct import *im, hull_error_t *err)
{
  char chain[IMG_DIGEST_LEN];
  for (size_t i = 0; i < im->plan->n_layers; i++)
    {
      const char *diff = im->plan->layers[i].diff_id;
      if (i == 0)
        memcpy (chain, diff, IMG_DIGEST_LEN);
      else
        {
          cleanup_free char *s = hull_fmt ("%s %s", chain, diff);
          img_sha256_buf (s, strlen (s), chain);
        }
      struct job *j = &im->jobs[im->layer_job[i]];
      if (j->present || j->layer != i || i == 0 || (j->res.n_fixups == 0 && j->res.n_implicit == 0))
        continue;
      int *lower = NULL;
      cleanup_close int dfd = openat (im->staging_fd, j->dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
      if (dfd < 0 || open_lower (im, i, &lower, err) < 0)
        return dfd < 0 ? hull_make_error (err, errno, "open layer %zu", i) : -1;
      int r = img_unpack_fixup (dfd, &j->res, lower, i, err);
      img_close_layers (lower, i);
      if (r < 0)
        return hull_error_wrap (err, "layer %zu (%s)", i, diff);
      if (j->res.n_fixups == 0)
        continue;
      memcpy (j->key, chain + 7, 65);
      j->present = faccessat (im->s->layers_fd, j->key, F_OK, AT_SYMLINK_NOFOLLOW) == 0;
    }
  return 0;
}

static struct img_image *
make_record (struct import *im)
{
  struct img_plan *p = im->plan;
  struct img_image *r = xmalloc0 (sizeof (*r));
  r->id = xstrdup (p->config_digest + 7);
  r->names = xmalloc0 (sizeof (char *));
  const char *name = im->o->name ? im->o->name : p->name;
  if (name)
    strv_append (&r->names, name);
  r->n_layers = p->n_layers;
  r->diff_ids = xmalloc0 ((p->n_layers + 1) * sizeof (char *));
  r->keys = xmalloc0 ((p->n_layers + 1) * sizeof (char *));
  for (size_t i = 0; i < p->n_layers; i++)
    {
      r->diff_ids[i] = xstrdup (p->layers[i].diff_id);
      r->keys[i] = xstrdup (im->jobs[im->layer_job[i]].key);
      struct job *j = &im->jobs[im->layer_job[i]];
      r->size += p->layers[i].size >= 0 ? (uint64_t)p->layers[i].size : j->blob_size;
    }
  r->manifest_digest = xstrdup (p->manifest_digest);
  r->imported = img_now_rfc3339 ();
  r->config_json = xstrndup (p->config_json, p->config_len);
  r->config_len = p->config_len;
  return r;
}

static int
stage_record (struct import *im, const struct img_image *r, hull_error_t *err)
{
  if (mkdirat (im->staging_fd, "image", 0700) < 0)
    return hull_make_error (err, errno, "image store: stage the image record");
  cleanup_close int dfd = openat (im->staging_fd, "image", O_RDONLY | O_DIRECTORY | O_CLOEXEC);
  cleanup_free char *json = img_image_record_json (r);
  if (dfd < 0)
    return hull_make_error (err, errno, "image store: stage the image record");
  if (img_write_durable (dfd, "config.json", r->config_json, r->config_len, err) < 0
      || img_write_durable (dfd, "image.json", json, strlen (json), err) < 0)
    return -1;
  return img_fsync_dir (dfd, "the staged image record", err);
}

/* Under commit.lock: a name belongs to one image at a time. */
static int
move_name (struct img_store *s, const char *id, const char *name, hull_error_t *err)
{
  struct img_image **v = NULL;
  size_t n = 0;
  if (img_image_list (s, &v, &n, err) < 0)
    return -1;
  int ret = 0;
  for (size_t i = 0; i < n && ret == 0; i++)
    {
      struct img_image *x = v[i];
      bool has = false;
      size_t k = 0;
      for (size_t j = 0; x->names[j]; j++)
        if (strcmp (x->names[j], name) == 0)
          has = true, free (x->names[j]);
        else
          x->names[k++] = x->names[j];
      x->names[k] = NULL;
      if (strcmp (x->id, id) == 0)
        strv_append (&x->names, name);
      else if (!has)
        continue;
      cleanup_close int dfd = openat (s->images_fd, x->id, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
      cleanup_free char *json = img_image_record_json (x);
      if (dfd < 0)
        ret = hull_make_error (err, errno, "image %.12s", x->id);
      else
        ret = img_write_durable (dfd, "image.json", json, strlen (json), err);
    }
  img_image_list_free (v, n);
  return ret;
}

static int
commit (struct import *im, const struct img_image *r, hull_error_t *err)
{
  struct img_store *s = im->s;
  for (size_t i = 0; i < im->n_jobs; i++)
    {
      struct job *j = &im->jobs[i];
      if (j->present)
        {
          if (faccessat (s->layers_fd, j->key, F_OK, AT_SYMLINK_NOFOLLOW) < 0)
            return hull_make_error (err, errno, "image store: layer %s disappeared", j->key);
          continue;
        }
      /* Another import may have stored the same bytes meanwhile: theirs stays. */
      if (renameat (im->staging_fd, j->dir, s->layers_fd, j->key) < 0 && errno != EEXIST
          && errno != ENOTEMPTY)
        return hull_make_error (err, errno, "image store: store layer %s", j->key);
    }
  if (img_fsync_dir (s->layers_fd, "layers", err) < 0)
    return -1;
  if (renameat (im->staging_fd, "image", s->images_fd, r->id) < 0 && errno != EEXIST && errno != ENOTEMPTY)
    return hull_make_error (err, errno, "image store: store image %.12s", r->id);
  if (img_fsync_dir (s->images_fd, "images", err) < 0)
    return -1;
  for (size_t i = 0; r->names[i]; i++)
    if (move_name (s, r->id, r->names[i], err) < 0)
      return -1;
  return 0;
}

static int
import_locked (struct import *im, char **id_out, hull_error_t *err)
{
  cleanup_free char *staging = NULL;
  im->staging_fd = img_store_staging (im->s, "imp", &staging, err);
  if (im->staging_fd < 0)
    return -1;
  plan_jobs (im);
  int ret = unpack_all (im, err);
  if (ret == 0)
    ret = apply_fixups (im, err);
  cleanup_image struct img_image *r = ret == 0 ? make_record (im) : NULL;
  /* One syncfs for all the staged files: durable before they get a trusted name. */
  if (ret == 0 && syncfs (im->staging_fd) < 0)
    ret = hull_make_error (err, errno, "image store: syncfs");
  if (ret == 0)
    ret = stage_record (im, r, err);
  if (ret == 0)
    {
      if (img_store_lock (im->s, im->s->commit_lock_fd, LOCK_EX, err) < 0)
        ret = -1;
      else
        {
          ret = commit (im, r, err);
          img_store_unlock (im->s->commit_lock_fd);
        }
    }
  if (ret == 0 && id_out)
    *id_out = xstrdup (r->id);
  hull_error_t ignored = NULL;
  close (im->staging_fd);
  hull_rm_rf_at (im->s->tmp_fd, staging, &ignored);
  hull_error_release (&ignored);
  return ret;
}

int
img_import (struct img_store *s, const struct img_import_opts *o, char **id_out, hull_error_t *err)
{
  if (geteuid () != 0)
    return hull_make_error (err, EPERM,
                            "image import needs root (ownership, device nodes and overlay whiteouts)");
  struct img_source *src = NULL;
  struct img_plan plan;
  if (img_source_open (o->source, &src, err) < 0)
    return -1;
  if (img_plan_build (src, o->ref, &plan, err) < 0)
    {
      img_source_free (src);
      return -1;
    }
  struct import im = { .s = s, .o = o, .plan = &plan, .src = src, .staging_fd = -1 };
  pthread_mutex_init (&im.mu, NULL);
  pthread_cond_init (&im.cond, NULL);
  int ret = img_store_lock (s, s->gc_lock_fd, LOCK_SH, err);
  if (ret == 0)
    {
      img_store_clean_staging (s, NULL);
      ret = import_locked (&im, id_out, err);
      img_store_unlock (s->gc_lock_fd);
    }
  for (size_t i = 0; i < im.n_jobs; i++)
    {
      img_unpack_result_release (&im.jobs[i].res);
      hull_error_release (&im.jobs[i].err);
    }
  free (im.jobs);
  free (im.layer_job);
  pthread_mutex_destroy (&im.mu);
  pthread_cond_destroy (&im.cond);
  img_plan_release (&plan);
  img_source_free (src);
  return ret;
}
