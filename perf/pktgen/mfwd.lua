-- SPDX-License-Identifier: BSD-3-Clause
-- Pktgen-DPDK script for mfwd: replay a pcap made by perf/pktgen/make-pcap on port 0 and
-- count what comes back on port 1. Run pktgen with the pcap on port 0, e.g.
--   pktgen -l 0,1 -n 4 --file-prefix pg --vdev net_memif0,role=client,id=0,socket=/run/mfwd-memif.sock \
--          --vdev net_memif1,role=client,id=1,socket=/run/mfwd-memif.sock -- \
--          -P -m "1.[0-1]" -s 0:/tmp/mfwd-rtp.pcap -f perf/pktgen/mfwd.lua
-- after mfwd with drivers-config/memif.conf (role=server) and sessions for 10.99.1.2:10000+2i.
package.path = package.path ..";?.lua;test/?.lua;app/?.lua;"
require "Pktgen"

local seconds = tonumber(os.getenv("MFWD_PG_SECONDS") or "10")
local rate = tonumber(os.getenv("MFWD_PG_RATE") or "100")   -- percent of line rate

pktgen.set("0", "rate", rate)
pktgen.pcap("0", "on")
pktgen.clr()
pktgen.start("0")
pktgen.delay(seconds * 1000)
pktgen.stop("0")
pktgen.delay(500)

local s = pktgen.portStats("all", "port")
local tx, rx = s[0].opackets, s[1].ipackets
printf("mfwd via pktgen: sent %d, received %d, %.2f Mpps in, loss %d\n", tx, rx,
       rx / seconds / 1e6, tx - rx)
pktgen.quit()
