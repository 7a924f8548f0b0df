/* Port-I/O and MMIO buses: address ranges mapped to device ops.  Ranges are
 * registered before the first vCPU runs and never change afterwards, so the
 * vCPU threads look them up without a lock; devices lock their own state. */
#include "vm-internal.h"

int
vm_bus_register (struct vm_bus *bus, uint64_t base, uint64_t len, const struct vm_io_ops *ops, void *dev,
                 const char *name, hull_error_t *err)
{
  if (len == 0 || base + len < base)
    return hull_make_error (err, 0, "%s bus: bad range for %s", bus->name, name);

  size_t pos = 0;
  while (pos < bus->n && bus->ranges[pos].base < base)
    pos++;
  const struct vm_bus_range *prev = pos > 0 ? &bus->ranges[pos - 1] : NULL;
  const struct vm_bus_range *next = pos < bus->n ? &bus->ranges[pos] : NULL;
  if ((prev && prev->base + prev->len > base) || (next && base + len > next->base))
    return hull_make_error (err, 0, "%s bus: %s at 0x%" PRIx64 "+0x%" PRIx64 " overlaps %s", bus->name, name,
                            base, len, prev && prev->base + prev->len > base ? prev->name : next->name);

  bus->ranges = xreallocarray (bus->ranges, bus->n + 1, sizeof (bus->ranges[0]));
  memmove (&bus->ranges[pos + 1], &bus->ranges[pos], (bus->n - pos) * sizeof (bus->ranges[0]));
  bus->ranges[pos] = (struct vm_bus_range){ .base = base, .len = len, .ops = ops, .dev = dev, .name = name };
  bus->n++;
  return 0;
}

static const struct vm_bus_range *
bus_find (const struct vm_bus *bus, uint64_t addr)
{
  size_t lo = 0, hi = bus->n;
  while (lo < hi)
    {
      size_t mid = lo + (hi - lo) / 2;
      const struct vm_bus_range *r = &bus->ranges[mid];
      if (addr < r->base)
        hi = mid;
      else if (addr - r->base >= r->len)
        lo = mid + 1;
      else
        return r;
    }
  return NULL;
}

bool
vm_bus_access (struct vm_bus *bus, uint64_t addr, uint8_t *data, uint32_t len, bool is_write)
{
  const struct vm_bus_range *r = bus_find (bus, addr);
  /* The whole access must fall inside the device's range. */
  if (r == NULL || len > r->len - (addr - r->base))
    {
      atomic_fetch_add (&bus->unhandled, 1);
      if (!is_write)
        memset (data, 0xff, len);
      return false;
    }
  if (is_write)
    {
      if (r->ops->write)
        r->ops->write (r->dev, addr - r->base, data, len);
    }
  else if (r->ops->read)
    r->ops->read (r->dev, addr - r->base, data, len);
  else
    memset (data, 0, len);
  return true;
}

void
vm_bus_release (struct vm_bus *bus)
{
  free (bus->ranges);
  bus->ranges = NULL;
  bus->n = 0;
}
