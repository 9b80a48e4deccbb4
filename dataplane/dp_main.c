/* SPDX-License-Identifier: BSD-3-Clause */
/*
 * mfwd-dataplane: main() only orchestrates: EAL, the dataplane's state (dp_setup.c), then
 * the workers on their lcores and the control loop on the main lcore until SIGINT or
 * SIGTERM.
 */

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <rte_eal.h>
#include <rte_ethdev.h>
#include <rte_lcore.h>

#include "dp.h"
#include "dp_event.h"

static void
on_signal(int sig)
{
	(void)sig;
	atomic_store_explicit(&dp.quit, true, memory_order_release);
}

int
main(int argc, char **argv)
{
	unsigned int lcore_id;
	int n, rc;

	dp_intr_munmap_init();
	n = rte_eal_init(argc, argv);
	if (n < 0)
		rte_exit(EXIT_FAILURE, "EAL initialisation failed: %s\n", rte_strerror(rte_errno));
	dp_logtype = rte_log_register_type_and_pick_level("user.mf.dp", RTE_LOG_INFO);
	signal(SIGINT, on_signal);
	signal(SIGTERM, on_signal);
	/* EAL leaves the program name in front of our own options. */
	rc = dp_setup(argc - n, argv + n);
	if (rc != 0) {
		dp_teardown();
		rte_eal_cleanup();
		return rc > 0 ? EXIT_SUCCESS : EXIT_FAILURE;
	}
	RTE_LCORE_FOREACH_WORKER(lcore_id) {
		for (n = 1; n <= dp.nb_workers; n++)
			if (dp.lcores[n].lcore_id == lcore_id)
				rte_eal_remote_launch(dp_worker_main, &dp.lcores[n], lcore_id);
	}
	dp_neigh_announce();
	dp_event(MF_EV_DATAPLANE_UP, NULL, NULL, 0, 0);
	DP_LOG(INFO, "instance %s: %u ports, %u workers, up\n", dp.cfg.instance, dp.nb_ports,
	       dp.nb_workers);
	dp_ctrl_loop();
	DP_LOG(INFO, "stopping\n");
	dp_event(MF_EV_DATAPLANE_DOWN, NULL, NULL, 0, 0);
	urcu_qsbr_thread_offline();
	rte_eal_mp_wait_lcore();
	urcu_qsbr_thread_online();
	dp_teardown();
	rte_eal_cleanup();
	return EXIT_SUCCESS;
}
