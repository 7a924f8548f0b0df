/* How the guest stops the VM.  The i8042 keyboard controller's reset line
 * (command 0xfe on port 0x64: Linux's `reboot=k`, and so its power-off
 * when there is no ACPI) and hull's paravirtual exit port 0x501 (the byte
 * written is the exit code; QEMU's isa-debug-exit port). */
#include "vm-internal.h"

#define I8042_CMD_RESET 0xfe

static void
i8042_read (void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
  (void)dev;
  (void)offset;
  /* Status 0: no byte to read, input buffer empty (ready for a command). */
  memset (data, 0, len);
}

static void
i8042_write (void *dev, uint64_t offset, const uint8_t *data, uint32_t len)
{
  struct vm *vm = dev;
  (void)len;
  if (offset == VM_I8042_CMD_PORT - VM_I8042_DATA_PORT && data[0] == I8042_CMD_RESET)
    vm_request_stop (vm, VM_STOP_RESET, 0, NULL);
}

static const struct vm_io_ops i8042_ops = { .read = i8042_read, .write = i8042_write };

static void
pvexit_write (void *dev, uint64_t offset, const uint8_t *data, uint32_t len)
{
  (void)offset;
  (void)len;
  vm_request_stop (dev, VM_STOP_EXIT, data[0], NULL);
}

static const struct vm_io_ops pvexit_ops = { .read = i8042_read, .write = pvexit_write };

int
vm_power_init (struct vm *vm, hull_error_t *err)
{
  /* Ports 0x60..0x64: 0x61 is the PIT's speaker port, served by KVM before
   * it would reach us. */
  if (vm_bus_register (&vm->pio, VM_I8042_DATA_PORT, VM_I8042_CMD_PORT - VM_I8042_DATA_PORT + 1, &i8042_ops,
                       vm, "i8042", err)
      < 0)
    return -1;
  return vm_bus_register (&vm->pio, VM_PVEXIT_PORT, 1, &pvexit_ops, vm, "exit port", err);
}
