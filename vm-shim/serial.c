/* An 8250/16550A UART at 0x3f8, IRQ 4.  What the guest transmits is
 * appended to the serial log (for diagnosis; never the workload's stdout).
 * Nothing is ever received except in loopback mode, which Linux's probe
 * uses.  Registers follow the 16550A data sheet, as kvmtool's serial.c. */
#include "vm-internal.h"

#include <linux/serial_reg.h>

#define SERIAL_BUF 512
/* The guest is not trusted with the host's disk: past this much, what it
 * writes to the UART is dropped (one note says so). */
#define SERIAL_LOG_MAX (8u << 20)

struct vm_serial
{
  struct vm *vm;
  pthread_mutex_t lock;
  int log_fd;
  uint8_t dll, dlm, ier, fcr, lcr, mcr, scr;
  uint8_t rbr;       /* loopback: the last byte written */
  bool rx_ready;     /* loopback: rbr holds a byte */
  bool thri_pending; /* THR-empty interrupt not yet acknowledged */
  int irq_level;
  char buf[SERIAL_BUF]; /* output not yet written to the log */
  uint64_t logged;      /* bytes of guest output written to the log */
  size_t buf_len;
};

/* Appends to the log up to SERIAL_LOG_MAX bytes in all, then says once
 * that the rest is dropped. */
static void
serial_log_write (struct vm_serial *s, const char *data, size_t len)
{
  static const char full[] = "\n[hull-vmm] serial log limit reached: further guest output dropped\n";
  if (s->log_fd < 0 || s->logged >= SERIAL_LOG_MAX)
    return;
  size_t n = len < SERIAL_LOG_MAX - s->logged ? len : SERIAL_LOG_MAX - s->logged;
  (void)hull_write_all (s->log_fd, data, n);
  s->logged += n;
  if (s->logged == SERIAL_LOG_MAX)
    (void)hull_write_all (s->log_fd, full, sizeof (full) - 1);
}

static void
serial_flush (struct vm_serial *s)
{
  serial_log_write (s, s->buf, s->buf_len);
  s->buf_len = 0;
}

static uint8_t
serial_iir (const struct vm_serial *s)
{
  uint8_t fifo = (s->fcr & UART_FCR_ENABLE_FIFO) ? 0xc0 : 0;
  if ((s->ier & UART_IER_RDI) && s->rx_ready)
    return fifo | UART_IIR_RDI;
  if ((s->ier & UART_IER_THRI) && s->thri_pending)
    return fifo | UART_IIR_THRI;
  return fifo | UART_IIR_NO_INT;
}

static void
serial_update_irq (struct vm_serial *s)
{
  int level = (serial_iir (s) & UART_IIR_NO_INT) ? 0 : 1;
  /* OUT2 gates the interrupt line on a PC. */
  if (!(s->mcr & UART_MCR_OUT2))
    level = 0;
  if (level != s->irq_level)
    {
      s->irq_level = level;
      (void)vm_irq_line (s->vm, VM_SERIAL_IRQ, level);
    }
}

static void
serial_transmit (struct vm_serial *s, uint8_t c)
{
  if (s->mcr & UART_MCR_LOOP)
    {
      s->rbr = c;
      s->rx_ready = true;
    }
  else
    {
      s->buf[s->buf_len++] = (char)c;
      if (c == '\n' || s->buf_len == SERIAL_BUF)
        serial_flush (s);
    }
  /* Sent at once: the holding register is empty again. */
  s->thri_pending = true;
}

static uint8_t
serial_msr (const struct vm_serial *s)
{
  if (!(s->mcr & UART_MCR_LOOP))
    return UART_MSR_DCD | UART_MSR_DSR | UART_MSR_CTS;
  /* Loopback wires the modem outputs to the inputs. */
  uint8_t m = 0;
  if (s->mcr & UART_MCR_OUT2)
    m |= UART_MSR_DCD;
  if (s->mcr & UART_MCR_OUT1)
    m |= UART_MSR_RI;
  if (s->mcr & UART_MCR_DTR)
    m |= UART_MSR_DSR;
  if (s->mcr & UART_MCR_RTS)
    m |= UART_MSR_CTS;
  return m;
}

static uint8_t
serial_read_reg (struct vm_serial *s, uint64_t reg)
{
  bool dlab = s->lcr & UART_LCR_DLAB;
  switch (reg)
    {
    case UART_RX:
      if (dlab)
        return s->dll;
      s->rx_ready = false;
      return s->rbr;
    case UART_IER:
      return dlab ? s->dlm : s->ier;
    case UART_IIR:
      {
        uint8_t iir = serial_iir (s);
        /* Reading IIR acknowledges a THR-empty interrupt. */
        if ((iir & 0x0f) == UART_IIR_THRI)
          s->thri_pending = false;
        return iir;
      }
    case UART_LCR:
      return s->lcr;
    case UART_MCR:
      return s->mcr;
    case UART_LSR:
      return UART_LSR_TEMT | UART_LSR_THRE | (s->rx_ready ? UART_LSR_DR : 0);
    case UART_MSR:
      return serial_msr (s);
    default:
      return s->scr;
    }
}

static void
serial_write_reg (struct vm_serial *s, uint64_t reg, uint8_t v)
{
  bool dlab = s->lcr & UART_LCR_DLAB;
  switch (reg)
    {
    case UART_TX:
      if (dlab)
        s->dll = v;
      else
        serial_transmit (s, v);
      break;
    case UART_IER:
      if (dlab)
        s->dlm = v;
      else
        {
          /* Enabling the THR-empty interrupt while the THR is empty
           * raises it, as a 16550A does (Linux relies on it). */
          if ((v & UART_IER_THRI) && !(s->ier & UART_IER_THRI))
            s->thri_pending = true;
          s->ier = v & 0x0f;
        }
      break;
    case UART_FCR:
      s->fcr = v;
      break;
    case UART_LCR:
      s->lcr = v;
      break;
    case UART_MCR:
      s->mcr = v & 0x1f;
      break;
    case UART_SCR:
      s->scr = v;
      break;
    default: /* LSR and MSR are read-only */
      break;
    }
}

static void
serial_io_read (void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
  struct vm_serial *s = dev;
  pthread_mutex_lock (&s->lock);
  data[0] = serial_read_reg (s, offset);
  serial_update_irq (s);
  pthread_mutex_unlock (&s->lock);
  if (len > 1)
    memset (data + 1, 0, len - 1);
}

static void
serial_io_write (void *dev, uint64_t offset, const uint8_t *data, uint32_t len)
{
  struct vm_serial *s = dev;
  (void)len;
  pthread_mutex_lock (&s->lock);
  serial_write_reg (s, offset, data[0]);
  serial_update_irq (s);
  pthread_mutex_unlock (&s->lock);
}

static const struct vm_io_ops serial_ops = { .read = serial_io_read, .write = serial_io_write };

int
vm_serial_init (struct vm *vm, hull_error_t *err)
{
  struct vm_serial *s = xmalloc0 (sizeof (*s));
  s->vm = vm;
  s->log_fd = -1;
  s->mcr = UART_MCR_OUT2;
  pthread_mutex_init (&s->lock, NULL);
  vm->serial = s;

  if (vm->cfg.serial_log != NULL)
    {
      s->log_fd = open (vm->cfg.serial_log, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC | O_NOCTTY, 0600);
      if (s->log_fd < 0)
        return hull_make_error (err, errno, "open serial log `%s`", vm->cfg.serial_log);
    }
  return vm_bus_register (&vm->pio, VM_SERIAL_PORT, 8, &serial_ops, s, "serial 8250", err);
}

void
vm_serial_note (struct vm *vm, const char *fmt, ...)
{
  struct vm_serial *s = vm->serial;
  if (s == NULL || s->log_fd < 0)
    return;
  va_list ap;
  va_start (ap, fmt);
  cleanup_free char *msg = NULL;
  if (vasprintf (&msg, fmt, ap) < 0)
    abort ();
  va_end (ap);
  pthread_mutex_lock (&s->lock);
  /* A guest line cut short ends here, so the note stands on its own. */
  cleanup_free char *line = hull_fmt ("%s[hull-vmm] %s\n", s->buf_len > 0 ? "\n" : "", msg);
  serial_flush (s);
  serial_log_write (s, line, strlen (line)); /* a guest could provoke notes: they count too */
  pthread_mutex_unlock (&s->lock);
}

void
vm_serial_exit (struct vm *vm)
{
  struct vm_serial *s = vm->serial;
  if (s == NULL)
    return;
  serial_flush (s);
  if (s->log_fd >= 0)
    close (s->log_fd);
  pthread_mutex_destroy (&s->lock);
  free (s);
  vm->serial = NULL;
}
