/* vm-shim/: hull's micro-VMM on /dev/kvm.  A VM is built by vm_create() in
 * ordered levels (undone in reverse on failure), run by vm_run() until the
 * guest or a signal stops it, and released by vm_destroy().  See docs/vmm.md. */
#ifndef HULL_VM_H
#define HULL_VM_H

#include "../common/common.h"

#define VM_MAX_CPUS 64
#define VM_MEM_MIN (2ULL << 20)
#define VM_MEM_MAX (512ULL << 30)

enum vm_stop_reason
{
  VM_STOP_NONE,
  VM_STOP_RESET,    /* i8042 reset, triple fault, KVM system-event reset */
  VM_STOP_POWEROFF, /* KVM system-event shutdown */
  VM_STOP_EXIT,     /* guest wrote its exit code to the paravirtual port 0x501 */
  VM_STOP_SIGNAL,   /* SIGTERM, SIGINT or SIGHUP reached the VMM */
  VM_STOP_TIMEOUT,  /* vm_config.timeout_ms passed */
  VM_STOP_ERROR,    /* a vCPU or the VMM failed: vm_run returns -1 with the error */
  VM_STOP_PROCESS,  /* the guest agent reported the end of vm_config.process */
};

struct vm_stop_info
{
  enum vm_stop_reason reason;
  int code; /* VM_STOP_EXIT: the byte written; VM_STOP_SIGNAL: the signal */
  /* With vm_config.process (whatever stopped the VM): */
  bool process_exited;      /* the agent reported the process's end */
  int process_status;       /* then: its wait status (WIFEXITED / WIFSIGNALED) */
  uint64_t agent_ready_ns;  /* vm_create to the agent's HELLO; 0: never came */
  uint64_t process_exit_ns; /* vm_create to the agent's EXIT */
};

const char *vm_stop_reason_name (enum vm_stop_reason r);

/* A raw guest instead of a kernel: for tests and the host calibration.
 * code is copied to load_gpa and the boot CPU (or every CPU with
 * start_all_cpus, each with its index in %rdi/%di) enters it at entry. */
enum vm_cpu_mode
{
  VM_MODE_REAL, /* 16-bit real mode, CS:IP = (entry >> 4):(entry & 15) */
  VM_MODE_LONG, /* 64-bit long mode, identity-mapped first 4 GiB, as for Linux */
};

struct vm_raw_image
{
  const void *code;
  size_t len;
  uint64_t load_gpa;
  uint64_t entry;
  enum vm_cpu_mode mode;
  bool start_all_cpus;
};

/* A port of the host/guest channel (virtio-console, multiport), found in
 * the guest by name in /sys/class/virtio-ports/vportNpM/name.  The VM
 * works on its own fds for them, non-blocking without touching the
 * caller's open files (pipes and terminals are opened again, sockets are
 * used with MSG_DONTWAIT; see console_port_fd).  EOF on in_fd reaches the
 * guest as EOF on the port; the guest closing the port closes the VM's fd
 * for out_fd.  A VM with ports ignores SIGPIPE (process-wide): a reader
 * that went away makes the port drop what the guest writes. */
struct vm_port
{
  const char *name; /* [A-Za-z0-9._-], at most 64 characters */
  int in_fd;        /* host -> guest, or -1 */
  int out_fd;       /* guest -> host, or -1 (what the guest writes is dropped) */
};
#define VM_MAX_PORTS 16

/* A process for the guest agent (vm-shim/agent/) to run: the VM gets the
 * channel ports hull.ctl (driven by the VMM: agent-proto.h), hull.stdin,
 * hull.stdout and hull.stderr (on these fds, as struct vm_port's in_fd and
 * out_fd; -1: none, the process reads EOF and its output is dropped).  The
 * agent's HELLO is answered with a RUN; SIGTERM, SIGINT and SIGHUP to the
 * VMM are then forwarded to the process instead of stopping the VM (before,
 * they stop it); the agent's EXIT stops the VM with VM_STOP_PROCESS after
 * everything the guest wrote is out.  Only read during vm_create. */
struct vm_process
{
  char *const *argv; /* at least one */
  char *const *env;  /* NULL: empty */
  const char *cwd;   /* NULL: "/" */
  int stdin_fd, stdout_fd, stderr_fd;
};

struct vm_config
{
  unsigned n_cpus;                /* 1 .. VM_MAX_CPUS */
  uint64_t mem_size;              /* bytes, a multiple of 1 MiB, VM_MEM_MIN .. VM_MEM_MAX */
  bool hugepages;                 /* guest RAM from the host's 2 MiB hugetlb pool (mem_size a multiple of 2 MiB) */
  const char *kernel;             /* vmlinux ELF or bzImage */
  const char *initrd;             /* optional initramfs */
  const char *cmdline;            /* appended to the default command line */
  const struct vm_raw_image *raw; /* instead of kernel */
  const char *serial_log;         /* the UART's output is appended here; NULL: dropped */
  uint64_t timeout_ms;            /* vm_run stops the guest after this long; 0: never */
  const char *dev_kvm;            /* NULL: /dev/kvm */
  const struct vm_port *ports;    /* the channel's ports; none: no channel device */
  unsigned n_ports;
  const struct vm_process *process; /* run through the guest agent, or NULL */
};

struct vm;

/* Builds the VM: KVM, memory, devices, vCPUs, and the loaded guest. */
int vm_create (const struct vm_config *cfg, struct vm **out, hull_error_t *err);
/* Runs the guest until it stops.  Returns 0 and fills *info when the guest,
 * its process, a signal or the deadline stopped it; -1 and *err when a vCPU or the VMM
 * failed.  Every vCPU thread has been joined when it returns.  Blocks
 * SIGTERM, SIGINT and SIGHUP in the calling thread while it runs (they are
 * read from a signalfd): other threads of the caller must block them too.
 * Once the vCPUs are stopped, what the guest had written to the channel's
 * ports is written out to their fds (waiting for slow readers; a stop
 * signal cuts that short) before it returns. */
int vm_run (struct vm *vm, struct vm_stop_info *info, hull_error_t *err);
/* Releases every fd, mapping and allocation of the VM.  NULL is fine. */
void vm_destroy (struct vm *vm);

/* Can this host run a Linux guest?  Fails with a message that says why not:
 * no /dev/kvm, an unusable KVM, or a paravirtual KVM (kvm_pvm) that emulates
 * guest kernel mode.  dev_kvm NULL: /dev/kvm. */
int vm_host_check (const char *dev_kvm, hull_error_t *err);

#endif
