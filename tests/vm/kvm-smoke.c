/* kvm-smoke: proves that /dev/kvm runs a guest, for the test host VM (nested
 * SVM under QEMU's TCG) or any host.  One vCPU in real mode runs
 *
 *     mov dx, 0x3f8 ; mov al, '0' ; add al, bl ; out dx, al ; hlt
 *
 * with bl = 4 set through KVM_SET_REGS: the first KVM_RUN must exit with
 * KVM_EXIT_IO (out, port 0x3f8, one byte, '4'), the second with
 * KVM_EXIT_HLT.  Prints one line and exits 0, or says what differed and
 * exits 1.  Usage: kvm-smoke [/dev/kvm] */
#include <errno.h>
#include <fcntl.h>
#include <linux/kvm.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/mman.h>
#include <unistd.h>

#define GUEST_ADDR 0x1000
#define GUEST_SIZE 0x1000
#define PORT 0x3f8

static const uint8_t code[] = {
  0xba, 0xf8, 0x03, /* mov dx, 0x3f8 */
  0xb0, '0',        /* mov al, '0' */
  0x00, 0xd8,       /* add al, bl */
  0xee,             /* out dx, al */
  0xf4,             /* hlt */
};

static void __attribute__ ((noreturn, format (printf, 1, 2))) fail (const char *fmt, ...)
{
  int saved_errno = errno;
  va_list ap;

  fputs ("kvm-smoke: ", stderr);
  va_start (ap, fmt);
  vfprintf (stderr, fmt, ap);
  va_end (ap);
  if (saved_errno != 0)
    fprintf (stderr, ": %s", strerror (saved_errno));
  fputc ('\n', stderr);
  exit (1);
}

static int vm_create (int kvm, void **mem)
{
  struct kvm_userspace_memory_region region = { 0 };
  int vm = ioctl (kvm, KVM_CREATE_VM, 0);

  if (vm < 0)
    fail ("KVM_CREATE_VM");
  *mem = mmap (NULL, GUEST_SIZE, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
  if (*mem == MAP_FAILED)
    fail ("mmap guest memory");
  memcpy (*mem, code, sizeof code);
  region.guest_phys_addr = GUEST_ADDR;
  region.memory_size = GUEST_SIZE;
  region.userspace_addr = (uintptr_t) *mem;
  if (ioctl (vm, KVM_SET_USER_MEMORY_REGION, &region) < 0)
    fail ("KVM_SET_USER_MEMORY_REGION");
  return vm;
}

static void vcpu_setup (int vcpu)
{
  struct kvm_sregs sregs;
  struct kvm_regs regs = { 0 };

  if (ioctl (vcpu, KVM_GET_SREGS, &sregs) < 0)
    fail ("KVM_GET_SREGS");
  sregs.cs.base = 0;
  sregs.cs.selector = 0;
  if (ioctl (vcpu, KVM_SET_SREGS, &sregs) < 0)
    fail ("KVM_SET_SREGS");
  regs.rip = GUEST_ADDR;
  regs.rbx = 4;
  regs.rflags = 0x2; /* bit 1 is reserved and must be set */
  if (ioctl (vcpu, KVM_SET_REGS, &regs) < 0)
    fail ("KVM_SET_REGS");
}

static void check_io_exit (const struct kvm_run *run)
{
  const uint8_t *data = (const uint8_t *) run + run->io.data_offset;

  errno = 0;
  if (run->exit_reason != KVM_EXIT_IO)
    fail ("first exit: reason %u, expected KVM_EXIT_IO (%u)", run->exit_reason, KVM_EXIT_IO);
  if (run->io.direction != KVM_EXIT_IO_OUT || run->io.port != PORT || run->io.size != 1
      || run->io.count != 1)
    fail ("first exit: io dir %u port %#x size %u count %u, expected out %#x size 1 count 1",
          run->io.direction, run->io.port, run->io.size, run->io.count, PORT);
  if (*data != '4')
    fail ("first exit: the guest wrote %#x, expected '4' (0x34)", *data);
}

int main (int argc, char **argv)
{
  const char *dev = argc > 1 ? argv[1] : "/dev/kvm";
  struct kvm_run *run;
  void *mem;
  int kvm, vm, vcpu, api, run_size;

  kvm = open (dev, O_RDWR | O_CLOEXEC);
  if (kvm < 0)
    fail ("open %s", dev);
  api = ioctl (kvm, KVM_GET_API_VERSION, 0);
  if (api != KVM_API_VERSION)
    fail ("KVM_GET_API_VERSION returned %d, expected %d", api, KVM_API_VERSION);
  vm = vm_create (kvm, &mem);
  vcpu = ioctl (vm, KVM_CREATE_VCPU, 0);
  if (vcpu < 0)
    fail ("KVM_CREATE_VCPU");
  run_size = ioctl (kvm, KVM_GET_VCPU_MMAP_SIZE, 0);
  if (run_size < (int) sizeof *run)
    fail ("KVM_GET_VCPU_MMAP_SIZE returned %d", run_size);
  run = mmap (NULL, (size_t) run_size, PROT_READ | PROT_WRITE, MAP_SHARED, vcpu, 0);
  if (run == MAP_FAILED)
    fail ("mmap the vCPU's kvm_run");
  vcpu_setup (vcpu);

  if (ioctl (vcpu, KVM_RUN, 0) < 0)
    fail ("first KVM_RUN");
  check_io_exit (run);
  if (ioctl (vcpu, KVM_RUN, 0) < 0)
    fail ("second KVM_RUN");
  errno = 0;
  if (run->exit_reason != KVM_EXIT_HLT)
    fail ("second exit: reason %u, expected KVM_EXIT_HLT (%u)", run->exit_reason, KVM_EXIT_HLT);

  printf ("kvm-smoke: ok: api %d, out '4' to port %#x, then hlt\n", api, PORT);
  munmap (run, (size_t) run_size);
  munmap (mem, GUEST_SIZE);
  close (vcpu);
  close (vm);
  close (kvm);
  return 0;
}
