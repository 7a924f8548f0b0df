/* The legacy devices on the port-I/O bus, without KVM: the 8250 UART as
 * Linux's probe sees it, the CMOS clock, the i8042 reset line and the exit
 * port, and port reads where nothing is. */
#include "test_vm_fixture.h"
#include "unit.h"

#include <linux/serial_reg.h>
#include <sys/stat.h>
#include <time.h>

static uint8_t ram[1 << 20];

static uint8_t
inb (struct vm *vm, uint16_t port)
{
  uint8_t v;
  vm_bus_access (&vm->pio, port, &v, 1, false);
  return v;
}

static void
outb (struct vm *vm, uint16_t port, uint8_t v)
{
  vm_bus_access (&vm->pio, port, &v, 1, true);
}

static struct vm *
devices_vm (const char *log)
{
  struct vm_config cfg = { .serial_log = log };
  struct vm *vm = NULL;
  hull_error_t err = NULL;
  if (vm_create_devices_only (&cfg, ram, sizeof (ram), &vm, &err) < 0)
    abort ();
  return vm;
}

TEST (uart_passes_linux_probe_and_writes_the_log)
{
  char *dir = vmt_tmpdir ();
  cleanup_free char *log = hull_fmt ("%s/serial.log", dir);
  struct vm *vm = devices_vm (log);
  const uint16_t base = VM_SERIAL_PORT;
  /* Scratch register, then the loopback test of serial8250 autoconfig. */
  outb (vm, base + UART_SCR, 0xa5);
  uint8_t scr = inb (vm, base + UART_SCR);
  outb (vm, base + UART_MCR, UART_MCR_LOOP | 0x0a);
  uint8_t msr = inb (vm, base + UART_MSR) & 0xf0;
  outb (vm, base + UART_TX, 'L'); /* looped back, not logged */
  uint8_t lsr = inb (vm, base + UART_LSR);
  uint8_t rx = inb (vm, base + UART_RX);
  outb (vm, base + UART_MCR, UART_MCR_OUT2 | UART_MCR_DTR | UART_MCR_RTS);
  /* Enabling the THR-empty interrupt raises it; reading IIR acknowledges. */
  outb (vm, base + UART_IER, UART_IER_THRI);
  uint8_t iir1 = inb (vm, base + UART_IIR) & 0x0f;
  uint8_t iir2 = inb (vm, base + UART_IIR) & 0x0f;
  /* The divisor latch does not eat output. */
  outb (vm, base + UART_LCR, UART_LCR_DLAB);
  outb (vm, base + UART_DLL, 1);
  outb (vm, base + UART_LCR, UART_LCR_WLEN8);
  for (const char *p = "hi\nthere"; *p; p++)
    outb (vm, base + UART_TX, (uint8_t)*p);
  vm_destroy (vm); /* flushes "there" */
  cleanup_free char *text = vmt_read_log (log);
  vmt_cleanup (dir);
  CHECK (scr == 0xa5);
  CHECK (msr == 0x90);
  CHECK ((lsr & UART_LSR_DR) && rx == 'L');
  CHECK (iir1 == UART_IIR_THRI && iir2 == UART_IIR_NO_INT);
  CHECK_STR (text, "hi\nthere");
}

TEST (serial_log_is_capped)
{
  char *dir = vmt_tmpdir ();
  cleanup_free char *log = hull_fmt ("%s/serial.log", dir);
  struct vm *vm = devices_vm (log);
  for (unsigned i = 0; i < (9u << 20); i++)
    outb (vm, VM_SERIAL_PORT, i % 64 == 63 ? '\n' : 'x');
  vm_destroy (vm);
  struct stat st;
  int r = stat (log, &st);
  char *text = NULL;
  size_t len;
  hull_error_t err = NULL;
  CHECK (hull_read_file_at (AT_FDCWD, log, 16 << 20, &text, &len, &err) == 0);
  bool noted = strstr (text + (8u << 20), "serial log limit reached") != NULL;
  free (text);
  vmt_cleanup (dir);
  CHECK (r == 0);
  CHECK (st.st_size < (8 << 20) + 200);
  CHECK (noted);
}

static int
bcd (uint8_t v)
{
  return (v >> 4) * 10 + (v & 0xf);
}

TEST (cmos_clock_tells_the_hosts_time)
{
  struct vm *vm = devices_vm (NULL);
  outb (vm, 0x70, 0x0a);
  uint8_t a = inb (vm, 0x71);
  outb (vm, 0x70, 0x0d);
  uint8_t d = inb (vm, 0x71);
  outb (vm, 0x70, 0x09);
  int year = bcd (inb (vm, 0x71));
  outb (vm, 0x70, 0x32);
  int century = bcd (inb (vm, 0x71));
  outb (vm, 0x70, 0x0b);
  outb (vm, 0x71, 0x06); /* binary mode */
  outb (vm, 0x70, 0x08);
  uint8_t month = inb (vm, 0x71);
  outb (vm, 0x70, 0x40);
  outb (vm, 0x71, 0x5a); /* CMOS RAM keeps what is written */
  uint8_t cmos = inb (vm, 0x71);
  vm_destroy (vm);
  time_t now = time (NULL);
  struct tm tm;
  gmtime_r (&now, &tm);
  CHECK (!(a & 0x80)); /* no update in progress */
  CHECK (d & 0x80);
  CHECK (century * 100 + year == tm.tm_year + 1900 || century * 100 + year == tm.tm_year + 1901);
  CHECK (month >= 1 && month <= 12);
  CHECK (cmos == 0x5a);
}

TEST (i8042_reset_and_exit_port_request_a_stop)
{
  struct vm *vm = devices_vm (NULL);
  CHECK (inb (vm, VM_I8042_CMD_PORT) == 0); /* ready for a command */
  outb (vm, VM_I8042_CMD_PORT, 0xfe);
  CHECK (vm_stopping (vm));
  CHECK (vm->stop.reason == VM_STOP_RESET);
  outb (vm, VM_PVEXIT_PORT, 3); /* the first reason stays */
  CHECK (vm->stop.reason == VM_STOP_RESET);
  vm_destroy (vm);

  vm = devices_vm (NULL);
  outb (vm, VM_I8042_DATA_PORT, 0xfe); /* data, not a command */
  CHECK (!vm_stopping (vm));
  outb (vm, VM_PVEXIT_PORT, 3);
  CHECK (vm->stop.reason == VM_STOP_EXIT && vm->stop.code == 3);
  vm_destroy (vm);
}

TEST (nothing_there_reads_all_ones)
{
  struct vm *vm = devices_vm (NULL);
  CHECK (inb (vm, 0x2f8) == 0xff); /* COM2: absent */
  uint32_t v = 0;
  vm_bus_access (&vm->mmio, 0xfed00000, (uint8_t *)&v, 4, false);
  CHECK (v == 0xffffffff);
  vm_destroy (vm);
}

RUN_TESTS ("vm_devices")
