"""What follows the log: consumer (election, discovery, follower, pages, upkeep, lag, pokes),
leases, entity cache, corrections, rebuild (generations, replayer), scorer."""
