/* Networking the runtime itself does: only bringing up "lo" in a new
 * network namespace (everything else is the job of CNI or the caller). */
#include "ns-internal.h"

#include <net/if.h> /* before any linux/ header, which would clash with it */

#include <libmnl/libmnl.h>
#include <linux/rtnetlink.h>
#include <time.h>

static void
mnl_socket_closep (struct mnl_socket **nl)
{
  if (*nl)
    mnl_socket_close (*nl);
}
#define cleanup_mnl __attribute__ ((cleanup (mnl_socket_closep)))

/* Room for the request and for the ack (which quotes the request). */
#define NL_BUF_SIZE 8192

int
ns_loopback_up (hull_error_t *err)
{
  cleanup_mnl struct mnl_socket *nl = mnl_socket_open2 (NETLINK_ROUTE, SOCK_CLOEXEC);
  if (nl == NULL)
    return hull_make_error (err, errno, "open a netlink socket to bring up lo");
  if (mnl_socket_bind (nl, 0, MNL_SOCKET_AUTOPID) < 0)
    return hull_make_error (err, errno, "bind the netlink socket to bring up lo");
  /* "lo" is always index 1 in a network namespace; the lookup is a guard
   * against that ever changing. */
  unsigned int index = if_nametoindex ("lo");
  if (index == 0)
    index = 1;

  union
  {
    struct nlmsghdr h;
    char b[NL_BUF_SIZE];
  } buf;
  memset (&buf, 0, sizeof (buf));
  struct nlmsghdr *nlh = mnl_nlmsg_put_header (buf.b);
  nlh->nlmsg_type = RTM_NEWLINK;
  nlh->nlmsg_flags = NLM_F_REQUEST | NLM_F_ACK;
  unsigned int seq = (unsigned int)time (NULL);
  nlh->nlmsg_seq = seq;
  struct ifinfomsg *ifm = mnl_nlmsg_put_extra_header (nlh, sizeof (*ifm));
  ifm->ifi_family = AF_UNSPEC;
  ifm->ifi_index = (int)index;
  ifm->ifi_flags = IFF_UP;
  ifm->ifi_change = IFF_UP;

  if (mnl_socket_sendto (nl, nlh, nlh->nlmsg_len) < 0)
    return hull_make_error (err, errno, "netlink: send RTM_NEWLINK for lo");
  unsigned int portid = mnl_socket_get_portid (nl);
  for (;;)
    {
      ssize_t n = mnl_socket_recvfrom (nl, buf.b, sizeof (buf.b));
      if (n < 0)
        return hull_make_error (err, errno, "netlink: receive the ack for lo");
      /* The ack is an NLMSG_ERROR: mnl_cb_run returns -1 with errno set
       * when its error field is not 0, MNL_CB_STOP when it is. */
      int r = mnl_cb_run (buf.b, (size_t)n, seq, portid, NULL, NULL);
      if (r < 0)
        return hull_make_error (err, errno, "bring up lo (RTM_NEWLINK, index %u)", index);
      if (r == MNL_CB_STOP)
        return 0;
    }
}
