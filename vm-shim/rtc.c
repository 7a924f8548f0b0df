/* A CMOS real-time clock (MC146818) at ports 0x70/0x71: the host's UTC time
 * of day at each read, and the rest of the 128 bytes of CMOS RAM.  Linux
 * takes its wall clock from kvm-clock, but a kernel with rtc_cmos probes
 * the chip: with nothing there the port reads 0xff, whose "update in
 * progress" bit kept it polling for 20 s in the test VM. */
#include "vm-internal.h"

#include <time.h>

#define RTC_INDEX_PORT 0x70
#define RTC_SECONDS 0x00
#define RTC_MINUTES 0x02
#define RTC_HOURS 0x04
#define RTC_WEEKDAY 0x06
#define RTC_MDAY 0x07
#define RTC_MONTH 0x08
#define RTC_YEAR 0x09
#define RTC_REG_A 0x0a
#define RTC_REG_B 0x0b
#define RTC_REG_C 0x0c
#define RTC_REG_D 0x0d
#define RTC_CENTURY 0x32
#define RTC_B_24H 0x02
#define RTC_B_BINARY 0x04
#define RTC_D_VALID 0x80

struct vm_rtc
{
  pthread_mutex_t lock;
  uint8_t index;
  uint8_t ram[128];
};

static uint8_t
rtc_encode (const struct vm_rtc *r, int v)
{
  return (r->ram[RTC_REG_B] & RTC_B_BINARY) ? (uint8_t)v : (uint8_t)(((v / 10) << 4) | (v % 10));
}

static uint8_t
rtc_read_reg (const struct vm_rtc *r, uint8_t reg)
{
  time_t now = time (NULL);
  struct tm tm;
  gmtime_r (&now, &tm);
  switch (reg)
    {
    case RTC_SECONDS:
      return rtc_encode (r, tm.tm_sec);
    case RTC_MINUTES:
      return rtc_encode (r, tm.tm_min);
    case RTC_HOURS:
      return rtc_encode (r, tm.tm_hour);
    case RTC_WEEKDAY:
      return rtc_encode (r, tm.tm_wday + 1);
    case RTC_MDAY:
      return rtc_encode (r, tm.tm_mday);
    case RTC_MONTH:
      return rtc_encode (r, tm.tm_mon + 1);
    case RTC_YEAR:
      return rtc_encode (r, tm.tm_year % 100);
    case RTC_CENTURY:
      return rtc_encode (r, 19 + tm.tm_year / 100);
    case RTC_REG_A:
      return 0x26; /* 32.768 kHz base, 1024 Hz rate, no update in progress */
    case RTC_REG_C:
      return 0; /* no interrupt pending */
    case RTC_REG_D:
      return RTC_D_VALID;
    default:
      return r->ram[reg];
    }
}

static void
rtc_read (void *dev, uint64_t offset, uint8_t *data, uint32_t len)
{
  struct vm_rtc *r = dev;
  memset (data, 0xff, len);
  if (offset != 1)
    return; /* the index port is write-only */
  pthread_mutex_lock (&r->lock);
  data[0] = rtc_read_reg (r, r->index);
  pthread_mutex_unlock (&r->lock);
}

static void
rtc_write (void *dev, uint64_t offset, const uint8_t *data, uint32_t len)
{
  struct vm_rtc *r = dev;
  (void)len;
  pthread_mutex_lock (&r->lock);
  if (offset == 0)
    r->index = data[0] & 0x7f; /* bit 7 masks NMIs on a PC: ignored */
  else if (r->index == RTC_REG_B)
    r->ram[RTC_REG_B] = data[0] | RTC_B_24H; /* the clock stays in 24-hour mode */
  else if (r->index > RTC_REG_D)
    r->ram[r->index] = data[0]; /* the time itself is the host's: not settable */
  pthread_mutex_unlock (&r->lock);
}

static const struct vm_io_ops rtc_ops = { .read = rtc_read, .write = rtc_write };

int
vm_rtc_init (struct vm *vm, hull_error_t *err)
{
  struct vm_rtc *r = xmalloc0 (sizeof (*r));
  pthread_mutex_init (&r->lock, NULL);
  r->ram[RTC_REG_B] = RTC_B_24H;
  vm->rtc = r;
  return vm_bus_register (&vm->pio, RTC_INDEX_PORT, 2, &rtc_ops, r, "rtc", err);
}

void
vm_rtc_exit (struct vm *vm)
{
  if (vm->rtc == NULL)
    return;
  pthread_mutex_destroy (&vm->rtc->lock);
  free (vm->rtc);
  vm->rtc = NULL;
}
