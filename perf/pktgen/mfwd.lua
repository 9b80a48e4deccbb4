-- SPDX-License-Identifier: BSD-3-Clause
-- Pktgen-DPDK script for mfwd, run by perf/pktgen/run (which sets everything below): replay
-- the pcap pktgen loaded on port 0 (-s 0:FILE, made by perf/pktgen/make-pcap) through mfwd
-- and count what comes back on port 1.
--   LUA_PATH         must reach Pktgen.lua, at the top of pktgen's source tree
--   MFWD_PG_SECONDS  how long to send (10)
--   MFWD_PG_RATE     percent of the link (memif says 100 Gb/s) (100)
--   MFWD_PG_OUT      file for the figures, one line: sent received seconds
require "Pktgen"

local ok, err = pcall(function()
	local seconds = tonumber(os.getenv("MFWD_PG_SECONDS") or "10")
	local rate = tonumber(os.getenv("MFWD_PG_RATE") or "100")

	-- memif links come up once mfwd (the server) has taken the connection: sending before
	-- that sends nothing. linkState is pktgen's cached copy, refreshed while we wait.
	local function up(p)
		return string.find(pktgen.linkState(tostring(p))[p], "UP", 1, true) ~= nil
	end
	local waited = 0
	while not (up(0) and up(1)) do
		if waited >= 30000 then error("memif links still down after 30 s") end
		pktgen.delay(100)
		waited = waited + 100
	end
	pktgen.set("0", "rate", rate)
	pktgen.clr()
	pktgen.delay(1100)	-- counters are refreshed once a second: let them read 0
	pktgen.start("0")
	pktgen.delay(seconds * 1000)
	pktgen.stop("0")
	pktgen.delay(2500)	-- the last second's figures, and what was still in flight
	local s = pktgen.portStats("all", "port")
	local f = io.open(os.getenv("MFWD_PG_OUT") or "/dev/stdout", "w")
	f:write(string.format("%d %d %d\n", s[0].opackets, s[1].ipackets, seconds))
	f:close()
end)
if not ok then io.stderr:write("mfwd.lua: " .. tostring(err) .. "\n") end
pktgen.quit()	-- always: on an error pktgen would otherwise wait in its command line
