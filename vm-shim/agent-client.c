/* The VMM's side of the guest agent's control port (agent-proto.h).
 *
 * With vm_config.process, the VM gets four channel ports: hull.ctl, whose
 * host end is one end of a socketpair whose other end this file reads and
 * writes in the VMM's loop, and hull.stdin/stdout/stderr on the caller's
 * fds.  It sends RUN when the agent says HELLO, forwards the stop signals as
 * SIGNAL once the process is asked for, and stops the VM when the agent
 * reports the process's end.  Everything from the guest is parsed with the
 * checked decoders of agent-proto.c: a guest that breaks the protocol stops
 * its VM with an error, nothing more. */
#include "virtio.h"
#include "agent-proto.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>

enum agent_state
{
  AGENT_BOOTING,  /* waiting for HELLO */
  AGENT_RUN_SENT, /* RUN written (or queued): signals are forwarded */
  AGENT_STARTED,  /* the guest said STARTED */
  AGENT_DONE,     /* EXIT or ERROR received */
};

struct vm_agent
{
  struct vm *vm;
  int fd;      /* our end of the socketpair, non-blocking */
  int port_fd; /* the port's end, until the console duplicated it */
  enum agent_state state;
  struct vm_agent_buf run;
  uint8_t *in;
  size_t in_len, in_cap;
  uint8_t *out; /* what waits for room in the socket */
  size_t out_len;
  bool out_watched;
  uint32_t guest_pid;
  int status;
  uint64_t ready_ns, exit_ns;
};

static void agent_on_fd (struct vm *vm, void *opaque, uint32_t events);

static void
agent_fail (struct vm_agent *a, hull_error_t *err)
{
  hull_error_wrap (err, "guest agent");
  a->state = AGENT_DONE;
  vm_request_stop (a->vm, VM_STOP_ERROR, 0, err);
}

static void
agent_watch (struct vm_agent *a)
{
  bool want_out = a->out_len > 0;
  if (want_out == a->out_watched)
    return;
  hull_error_t err = NULL;
  if (vm_loop_mod (a->vm, a->fd, EPOLLIN | (want_out ? EPOLLOUT : 0), &err) < 0)
    {
      agent_fail (a, &err);
      return;
    }
  a->out_watched = want_out;
}

static void
agent_write_out (struct vm_agent *a)
{
  size_t done = 0;
  while (done < a->out_len)
    {
      ssize_t n = send (a->fd, a->out + done, a->out_len - done, MSG_DONTWAIT | MSG_NOSIGNAL);
      if (n < 0 && errno == EINTR)
        continue;
      if (n < 0 && errno == EAGAIN)
        break;
      if (n < 0)
        {
          /* The console closed the port's end: the guest is gone. */
          done = a->out_len;
          break;
        }
      done += (size_t)n;
    }
  memmove (a->out, a->out + done, a->out_len - done);
  a->out_len -= done;
  agent_watch (a);
}

static void
agent_send (struct vm_agent *a, struct vm_agent_buf *b)
{
  a->out = xrealloc (a->out, a->out_len + b->len);
  memcpy (a->out + a->out_len, b->data, b->len);
  a->out_len += b->len;
  free (b->data);
  b->data = NULL;
  agent_write_out (a);
}

static int
agent_handle (struct vm_agent *a, const struct vm_agent_msg *m, hull_error_t *err)
{
  uint32_t v;
  switch (m->type)
    {
    case VM_AGENT_HELLO:
      if (a->state != AGENT_BOOTING)
        return hull_make_error (err, 0, "HELLO twice");
      if (vm_agent_u32_decode (m, &v, err) < 0)
        return -1;
      if (v != VM_AGENT_PROTO_VERSION)
        return hull_make_error (err, 0, "speaks protocol version %" PRIu32 ", hull speaks %d", v,
                                VM_AGENT_PROTO_VERSION);
      a->ready_ns = hull_now_ns ();
      a->state = AGENT_RUN_SENT;
      agent_send (a, &a->run);
      return 0;
    case VM_AGENT_STARTED:
      if (a->state != AGENT_RUN_SENT)
        return hull_make_error (err, 0, "STARTED without a RUN");
      if (vm_agent_u32_decode (m, &a->guest_pid, err) < 0)
        return -1;
      a->state = AGENT_STARTED;
      return 0;
    case VM_AGENT_EXIT:
      if (a->state != AGENT_STARTED)
        return hull_make_error (err, 0, "EXIT before STARTED");
      if (vm_agent_u32_decode (m, &v, err) < 0)
        return -1;
      if (!WIFEXITED ((int)v) && !WIFSIGNALED ((int)v))
        return hull_make_error (err, 0, "EXIT with wait status %#" PRIx32 ": neither exited nor killed", v);
      a->status = (int)v;
      a->exit_ns = hull_now_ns ();
      a->state = AGENT_DONE;
      vm_request_stop (a->vm, VM_STOP_PROCESS, 0, NULL);
      return 0;
    case VM_AGENT_ERROR:
      {
        /* The text is the guest's: bounded, and only printable bytes kept. */
        size_t n = m->len < 512 ? m->len : 512;
        cleanup_free char *text = xstrndup ((const char *)m->payload, n);
        for (char *c = text; *c; c++)
          if ((unsigned char)*c < 0x20 || (unsigned char)*c > 0x7e)
            *c = '?';
        return hull_make_error (err, 0, "%s", text);
      }
    default:
      return hull_make_error (err, 0, "the guest sent %s, a host-to-guest message", vm_agent_msg_name (m->type));
    }
}

/* Reads what the guest sent and handles every whole message. */
static void
agent_read (struct vm_agent *a)
{
  hull_error_t err = NULL;
  for (;;)
    {
      if (a->in_cap - a->in_len < 4096)
        {
          a->in_cap = a->in_cap ? 2 * a->in_cap : 16384;
          a->in = xrealloc (a->in, a->in_cap);
        }
      ssize_t n = recv (a->fd, a->in + a->in_len, a->in_cap - a->in_len, MSG_DONTWAIT);
      if (n < 0 && errno == EINTR)
        continue;
      if (n <= 0)
        break; /* EAGAIN, or EOF: the port's end closed with the guest */
      a->in_len += (size_t)n;
      size_t off = 0;
      for (;;)
        {
          struct vm_agent_msg m;
          ssize_t got = vm_agent_msg_parse (a->in + off, a->in_len - off, &m, &err);
          if (got == 0)
            break;
          if (got < 0 || a->state == AGENT_DONE || agent_handle (a, &m, &err) < 0)
            {
              if (err == NULL)
                hull_make_error (&err, 0, "%s after the process's end", vm_agent_msg_name (m.type));
              agent_fail (a, &err);
              a->in_len = 0;
              return;
            }
          off += (size_t)got;
        }
      memmove (a->in, a->in + off, a->in_len - off);
      a->in_len -= off;
    }
}

static void
agent_on_fd (struct vm *vm, void *opaque, uint32_t events)
{
  struct vm_agent *a = opaque;
  (void)vm;
  if (events & EPOLLOUT)
    agent_write_out (a);
  if (events & (EPOLLIN | EPOLLHUP | EPOLLERR))
    agent_read (a);
  if (events & (EPOLLHUP | EPOLLERR))
    {
      vm_loop_del (a->vm, a->fd);
      a->out_watched = false;
    }
}

int
vm_agent_init (struct vm *vm, struct vm_port *ctl, hull_error_t *err)
{
  const struct vm_process *p = vm->cfg.process;
  struct vm_agent *a = xmalloc0 (sizeof (*a));
  *a = (struct vm_agent){ .vm = vm, .fd = -1, .port_fd = -1 };
  vm->agent = a;
  if (vm_agent_run_build (&a->run, p->cwd ? p->cwd : "/", (const char *const *)p->argv,
                          (const char *const *)p->env, err)
      < 0)
    return -1;
  int sv[2];
  if (socketpair (AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC | SOCK_NONBLOCK, 0, sv) < 0)
    return hull_make_error (err, errno, "guest agent: socketpair");
  a->fd = sv[0];
  a->port_fd = sv[1];
  ctl->in_fd = ctl->out_fd = a->port_fd;
  return vm_loop_add (vm, a->fd, EPOLLIN, agent_on_fd, a, err);
}

void
vm_agent_port_taken (struct vm *vm)
{
  struct vm_agent *a = vm->agent;
  if (a && a->port_fd >= 0)
    {
      close (a->port_fd); /* the console has its own duplicate */
      a->port_fd = -1;
    }
}

bool
vm_agent_forward_signal (struct vm *vm, int signo)
{
  struct vm_agent *a = vm->agent;
  if (a == NULL || (a->state != AGENT_RUN_SENT && a->state != AGENT_STARTED))
    return false;
  struct vm_agent_buf b;
  vm_agent_msg_build_u32 (&b, VM_AGENT_SIGNAL, (uint32_t)signo);
  agent_send (a, &b);
  return true;
}

void
vm_agent_collect (struct vm *vm, struct vm_stop_info *info)
{
  struct vm_agent *a = vm->agent;
  if (a == NULL)
    return;
  if (a->state != AGENT_DONE)
    agent_read (a); /* the last bytes, written out by the console's final flush */
  info->agent_ready_ns = a->ready_ns ? a->ready_ns - vm->created_ns : 0;
  if (a->exit_ns)
    {
      info->process_exited = true;
      info->process_status = a->status;
      info->process_exit_ns = a->exit_ns - vm->created_ns;
    }
}

void
vm_agent_exit (struct vm *vm)
{
  struct vm_agent *a = vm->agent;
  if (a == NULL)
    return;
  if (a->fd >= 0)
    {
      vm_loop_del (vm, a->fd);
      close (a->fd);
    }
  if (a->port_fd >= 0)
    close (a->port_fd);
  free (a->run.data);
  free (a->in);
  free (a->out);
  free (a);
  vm->agent = NULL;
}
